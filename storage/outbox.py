"""The outbox to the clinic's system: written with the record, posted by the webhook worker.

Writing (the action server, through storage/repository.py): `enqueue_outcome` and
`enqueue_callback` add an outbox_messages row in the transaction that stores the triage outcome or
the callback request, with the record frozen (storage/fhir_export.py) and the next sequence number
of the conversation. Nothing is written while CLINIC_WEBHOOK_URL is unset.

Delivering (`python -m storage.outbox_worker`): `claim_due` takes the oldest due message of each
conversation whose earlier messages are all delivered or given up (so a conversation's messages
arrive in order), skipping rows another worker holds; the worker posts them and records the result
in the same transaction. A crash or a lost database connection before that commit leaves the
messages pending: they are posted again with the same idempotency key, and the receiver keeps the
first (docs/webhook.md). Failures wait longer each time (doubling, with jitter, or the receiver's
Retry-After), and after the last attempt, or at once for a refusal that retrying cannot fix (a 4xx
other than 408, 425 and 429), the message is kept as failed for staff to see and retry.
"""
from __future__ import annotations

import hashlib
import hmac
import random
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from storage.conversations import lock_conversations
from storage.fhir_export import conversation_record
from storage.models import HandoffRequest, OutboxMessage, TriageOutcome, utcnow

SIGNATURE_HEADER = "X-Clinic-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Reconciled outcomes (written by the projector when the action server could not) are swept into
# the outbox if they are at most this old.
RECONCILE_WINDOW = timedelta(hours=24)
RETRYABLE_STATUSES = (408, 425, 429)


@dataclass(frozen=True)
class OutboxPolicy:
    """What goes into the outbox: outcomes at these levels, and consented callback requests."""
    levels: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings) -> OutboxPolicy | None:
        """None while the webhook is off."""
        return cls(settings.webhook_level_set) if settings.webhook_url else None


def _next_sequence(session: Session, conversation_id: str) -> int:
    """The conversation's row must be locked (lock_conversations), so no other writer races."""
    last = session.execute(select(func.max(OutboxMessage.sequence))
                           .where(OutboxMessage.conversation_id == conversation_id)).scalar()
    return (last or 0) + 1


def _add(session: Session, kind: str, record_id: int, conversation_id: str, level: str | None,
         record: dict) -> OutboxMessage:
    key = secrets.token_hex(16)
    sequence = _next_sequence(session, conversation_id)
    now = utcnow()
    message = OutboxMessage(
        idempotency_key=key, kind=kind, record_id=record_id, conversation_id=conversation_id,
        sequence=sequence, level=level, status="pending", attempts=0, created_at=now,
        next_attempt_at=now,
        payload=dict(record, kind=kind, idempotency_key=key, sequence=sequence,
                     created_at=now.isoformat()))
    session.add(message)
    session.flush()
    return message


def enqueue_outcome(session: Session, policy: OutboxPolicy | None,
                    outcome: TriageOutcome) -> OutboxMessage | None:
    """Call in the outcome's transaction, with its conversation locked."""
    if policy is None or outcome.level not in policy.levels:
        return None
    record = conversation_record(session, outcome.conversation_id, outcomes=[outcome], callbacks=[])
    return _add(session, "triage_outcome", outcome.id, outcome.conversation_id, outcome.level,
                record)


def enqueue_callback(session: Session, policy: OutboxPolicy | None,
                     handoff: HandoffRequest) -> OutboxMessage | None:
    """Call in the callback request's transaction, with its conversation locked. A request the
    patient did not consent to pass on stays in the console only. The latest outcome goes along."""
    if policy is None or not handoff.consented:
        return None
    latest = session.execute(select(TriageOutcome)
                             .where(TriageOutcome.conversation_id == handoff.conversation_id)
                             .order_by(TriageOutcome.created_at.desc(), TriageOutcome.id.desc())
                             .limit(1)).scalars().all()
    record = conversation_record(session, handoff.conversation_id, outcomes=latest,
                                 callbacks=[handoff])
    return _add(session, "callback_request", handoff.id, handoff.conversation_id, handoff.level,
                record)


def enqueue_reconciled(session: Session, policy: OutboxPolicy | None,
                       window: timedelta = RECONCILE_WINDOW) -> int:
    """Outcomes the projector reconciled from Rasa's events (the action server's write failed)
    that are not in the outbox yet; returns how many were added."""
    if policy is None:
        return 0
    queued = exists().where(and_(OutboxMessage.kind == "triage_outcome",
                                 OutboxMessage.record_id == TriageOutcome.id))
    missing = session.execute(
        select(TriageOutcome).where(TriageOutcome.source == "reconciled",
                                    TriageOutcome.level.in_(policy.levels),
                                    TriageOutcome.recorded_at >= utcnow() - window, ~queued)
        .order_by(TriageOutcome.created_at, TriageOutcome.id).limit(500)).scalars().all()
    for outcome in missing:
        lock_conversations(session, {outcome.conversation_id: (outcome.channel, outcome.created_at)})
        enqueue_outcome(session, policy, outcome)
    return len(missing)


# --- delivery ------------------------------------------------------------------------------------

def claim_due(session: Session, limit: int, now: datetime | None = None) -> list[OutboxMessage]:
    """Due pending messages, oldest first, at most one per conversation and only where every
    earlier message of that conversation is settled; rows are locked until the transaction ends
    (other workers skip them)."""
    now = now or utcnow()
    earlier = aliased(OutboxMessage)
    blocked = exists().where(and_(earlier.conversation_id == OutboxMessage.conversation_id,
                                  earlier.status == "pending", earlier.id < OutboxMessage.id))
    statement = (select(OutboxMessage)
                 .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now,
                        ~blocked)
                 .order_by(OutboxMessage.id).limit(limit)
                 .with_for_update(skip_locked=True, of=OutboxMessage))
    return list(session.execute(statement).scalars())


def retry_delay(attempts: int, first: float, longest: float) -> float:
    """Seconds before attempt attempts+1: first, 2*first, 4*first ... up to longest, each
    between half and all of that (jitter: many failed messages do not all come back at once)."""
    ceiling = min(longest, first * 2 ** max(attempts - 1, 0))
    return ceiling * random.uniform(0.5, 1.0)


def is_retryable(status: int | None) -> bool:
    """None: no answer (refused, timed out, reset)."""
    return status is None or status >= 500 or status in RETRYABLE_STATUSES


def mark_delivered(message: OutboxMessage, at: datetime) -> None:
    message.status, message.delivered_at, message.last_attempt_at = "delivered", at, at
    message.attempts += 1
    message.last_error = None
    message.payload = None   # delivered: the clinic's system has it now


def mark_failed_attempt(message: OutboxMessage, at: datetime, error: str, *, retryable: bool,
                        max_attempts: int, delay_seconds: float) -> None:
    message.attempts += 1
    message.last_attempt_at, message.last_error = at, error[:200]
    if not retryable or message.attempts >= max_attempts:
        message.status = "failed"
    else:
        message.next_attempt_at = at + timedelta(seconds=delay_seconds)


def retry_failed(session: Session, ids: Iterable[int] | None = None) -> int:
    """Staff's retry: failed messages (these, or all) become pending again with a fresh count."""
    statement = update(OutboxMessage).where(OutboxMessage.status == "failed")
    if ids is not None:
        statement = statement.where(OutboxMessage.id.in_(list(ids)))
    result = session.execute(statement.values(status="pending", attempts=0, next_attempt_at=utcnow())
                             .execution_options(synchronize_session=False))
    return result.rowcount


# --- signature -----------------------------------------------------------------------------------

def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The X-Clinic-Signature header: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body>."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"
