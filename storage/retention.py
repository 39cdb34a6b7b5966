"""Erasure on request, the retention purge, deleting the text of unconsented conversations, and
forgetting old failed sign-ins."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from storage import audit, projector
from storage.conversations import erase_conversations
from storage.db import session_factory
from storage.models import Conversation, Event, LoginThrottle, TriageOutcome, utcnow

_BATCH = 500


def erase_conversation(session: Session, conversation_id: str, *, actor: str, audit_key: str
                       ) -> bool:
    """Remove every row of one conversation; the audit entry keeps only a keyed hash of its id."""
    erased = erase_conversations(session, [conversation_id]) > 0
    audit.record(session, actor=actor, action="erase", key=audit_key,
                 conversation_id=conversation_id, found=erased)
    return erased


def purge_expired(engine: Engine, *, days: int, actor: str, audit_key: str,
                  now: datetime | None = None) -> int:
    """Erase conversations whose last activity is more than `days` ago; returns how many."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    projector.catch_up(engine)      # every sender with events has a summary row to judge by
    condition = Conversation.last_activity_at < cutoff
    erased = _in_batches(engine, condition, lambda session, ids: erase_conversations(session, ids))
    with session_factory(engine)() as session, session.begin():
        audit.record(session, actor=actor, action="purge", key=audit_key, days=days,
                     conversations=erased)
    return erased


def purge_unconsented_text(engine: Engine, *, hours: int, actor: str, audit_key: str,
                           now: datetime | None = None) -> int:
    """Delete the events (all the text) of conversations without consent idle for more than
    `hours`, keeping their summary and triage outcomes (level, flags, rules; no reason/findings)."""
    now = now or utcnow()
    projector.catch_up(engine)
    condition = (
        Conversation.consent.isnot(True)
        & (Conversation.last_activity_at < now - timedelta(hours=hours))
        & or_(Conversation.text_purged_at.is_(None),
              Conversation.last_activity_at > Conversation.text_purged_at))

    def strip_text(session: Session, ids: list[str]) -> int:
        session.execute(delete(Event).where(Event.sender_id.in_(ids))
                        .execution_options(synchronize_session=False))
        session.execute(update(TriageOutcome).where(TriageOutcome.conversation_id.in_(ids))
                        .values(reason=None, findings=None)
                        .execution_options(synchronize_session=False))
        return session.execute(update(Conversation).where(Conversation.sender_id.in_(ids))
                               .values(preview=None, search_text=None, text_purged_at=now)
                               .execution_options(synchronize_session=False)).rowcount

    stripped = _in_batches(engine, condition, strip_text)
    with session_factory(engine)() as session, session.begin():
        audit.record(session, actor=actor, action="purge_text", key=audit_key, hours=hours,
                     conversations=stripped)
    return stripped


def purge_failed_logins(engine: Engine, *, quiet_minutes: int, now: datetime | None = None) -> int:
    """Delete the sign-in back-off rows (per typed account, per address) with no failure for
    `quiet_minutes` and no wait still running: their failures are forgotten anyway."""
    cutoff = (now or utcnow()) - timedelta(minutes=quiet_minutes)
    with session_factory(engine)() as session, session.begin():
        return session.execute(delete(LoginThrottle).where(
            LoginThrottle.window_started_at < cutoff,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < cutoff))
        ).rowcount


def _in_batches(engine: Engine, condition, work) -> int:
    """Apply work(session, sender_ids) to matching conversations, one transaction per batch."""
    total = 0
    while True:
        with session_factory(engine)() as session, session.begin():
            ids = session.execute(select(Conversation.sender_id).where(condition)
                                  .order_by(Conversation.sender_id).limit(_BATCH)).scalars().all()
            if not ids:
                return total
            total += work(session, list(ids))
