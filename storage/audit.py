"""The audit log: who did what, when, to which conversation (as a keyed hash, never content)."""
from __future__ import annotations

import hashlib
import hmac

from sqlalchemy.orm import Session

from storage.models import AuditEntry, utcnow


def conversation_ref(conversation_id: str, key: str) -> str:
    """Keyed hash of a sender id: the same conversation always gets the same reference, yet the
    log names no one (sender ids can be phone numbers on messaging channels)."""
    return hmac.new(key.encode(), conversation_id.encode(), hashlib.sha256).hexdigest()[:32]


def conversation_label(conversation_id: str, key: str) -> str:
    """A conversation's name on redacted pages and exports: its channel and a keyed pseudonym,
    the same everywhere, so conversations stay apart without naming anyone."""
    channel = conversation_id.split(":", 1)[0] + ":" if ":" in conversation_id else ""
    return f"{channel}ref-{conversation_ref(conversation_id, key)[:12]}"


def typed_ref(typed: str, key: str) -> str:
    """What someone typed as a sign-in name, as a keyed hash: the same text always gets the same
    reference (repeated attempts stay visible), yet a password typed in the email field is not
    kept."""
    return "typed:" + hmac.new(key.encode(), b"sign-in:" + typed.encode(),
                               hashlib.sha256).hexdigest()[:16]


def record(session: Session, *, actor: str, action: str, key: str,
           conversation_id: str | None = None, **details) -> None:
    """Add an audit entry to the session's transaction. `details` must hold no patient text."""
    session.add(AuditEntry(
        at=utcnow(), actor=actor, action=action,
        target_ref=conversation_ref(conversation_id, key) if conversation_id else None,
        details=details or None))
