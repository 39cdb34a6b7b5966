"""The write API the action server calls: triage outcomes, handoff requests, consent, check-ins.

Every write retries transient database errors a few times, then raises StorageWriteError; the
caller records that and still sends the patient the reply (the projector later reconciles
triage outcomes from Rasa's own events).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy import exc, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from storage import followups
from storage.conversations import insert_ignore, level_rank, lock_conversations, refresh_outcome_fields
from storage.db import get_engine, session_factory
from storage.models import CONTACT_METHODS, HandoffRequest, TriageOutcome, utcnow
from storage.outbox import OutboxPolicy, enqueue_callback, enqueue_outcome
from storage.transcript import outcome_event_key

__all__ = ["Repository", "StorageWriteError", "InvalidRecord", "outcome_event_key"]

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_DELAYS = (0.05, 0.2, 0.5)


class StorageWriteError(Exception):
    """A write did not reach the database (after retries, or because the record is invalid)."""


class InvalidRecord(StorageWriteError, ValueError):
    """The record itself is wrong (unknown level, naive datetime...): retrying cannot help."""


def _is_transient(error: exc.SQLAlchemyError) -> bool:
    if isinstance(error, (exc.OperationalError, exc.InterfaceError, exc.TimeoutError)):
        return True
    return isinstance(error, exc.DBAPIError) and error.connection_invalidated


class Repository:
    def __init__(self, engine: Engine, retry_delays: tuple[float, ...] = RETRY_DELAYS,
                 outbox: OutboxPolicy | None = None):
        """`outbox`: what to add to the outbox with each record (None: nothing; the webhook is off)."""
        self._sessions = session_factory(engine)
        self._retry_delays = retry_delays
        self._outbox = outbox

    @classmethod
    def from_settings(cls, settings=None) -> Repository:
        if settings is None:
            from clinic.settings import get_settings
            settings = get_settings()
        return cls(get_engine(settings.database_url), outbox=OutboxPolicy.from_settings(settings))

    def _write(self, operation: str, work: Callable[[Session], T]) -> T:
        for attempt, delay in enumerate((*self._retry_delays, None), start=1):
            try:
                with self._sessions() as session, session.begin():
                    return work(session)
            except (ValueError, TypeError) as error:
                raise InvalidRecord(f"{operation}: {error}") from error
            except exc.SQLAlchemyError as error:
                if delay is None or not _is_transient(error):
                    # Exception class only: the statement's parameters hold patient data.
                    log.error("%s failed after %d attempt(s): %s", operation, attempt,
                              type(error).__name__)
                    raise StorageWriteError(f"{operation} failed: {type(error).__name__}") \
                        from error
                log.warning("%s: transient %s, retrying", operation, type(error).__name__)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def record_outcome(self, *, conversation_id: str, level: str, red_flags: list[str],
                       rules: list[str], protocol_version: str, plan: list[str], reason: str,
                       findings: dict, channel: str | None, created_at: datetime,
                       event_key: str, sources: list[str] | None = None) -> None:
        """Idempotent on (conversation_id, event_key): a retried or reconciled write is a no-op."""
        def work(session: Session) -> None:
            rank = level_rank(level)
            conversation = lock_conversations(
                session, {conversation_id: (channel, created_at)})[conversation_id]
            inserted = insert_ignore(session, TriageOutcome, [dict(
                conversation_id=conversation_id, event_key=event_key, level=level,
                urgency_rank=rank, red_flags=list(red_flags), rules=list(rules),
                protocol_version=protocol_version, plan=list(plan), reason=reason,
                sources=list(sources or []), findings=findings, channel=channel,
                created_at=created_at, source="action_server", recorded_at=utcnow())],
                ["conversation_id", "event_key"])
            refresh_outcome_fields(session, [conversation])
            if inserted:
                enqueue_outcome(session, self._outbox, session.execute(select(TriageOutcome).where(
                    TriageOutcome.conversation_id == conversation_id,
                    TriageOutcome.event_key == event_key)).scalar_one())

        self._write("record_outcome", work)

    def record_handoff(self, *, conversation_id: str, contact_method: str, contact_value: str,
                       consented: bool, level: str | None, channel: str | None,
                       created_at: datetime) -> int:
        def work(session: Session) -> int:
            if contact_method not in CONTACT_METHODS:
                raise ValueError(f"contact_method must be one of {CONTACT_METHODS}")
            if level is not None:
                level_rank(level)
            conversation = lock_conversations(
                session, {conversation_id: (channel, created_at)})[conversation_id]
            conversation.last_activity_at = max(conversation.last_activity_at, created_at)
            handoff = HandoffRequest(
                conversation_id=conversation_id, contact_method=contact_method,
                contact_value=contact_value.strip(), consented=consented, level=level,
                channel=channel, status="open", created_at=created_at, updated_at=created_at)
            session.add(handoff)
            session.flush()
            enqueue_callback(session, self._outbox, handoff)
            return handoff.id

        return self._write("record_handoff", work)

    def record_follow_up(self, *, conversation_id: str, channel: str | None, contact_method: str,
                         contact_value: str, presentation: str, presentations: list[str], level: str,
                         after_days: int, created_at: datetime) -> int:
        """A check-in the patient asked for (storage/followups.py); returns its id."""
        return self._write("record_follow_up", lambda session: followups.schedule(
            session, conversation_id=conversation_id, channel=channel, contact_method=contact_method,
            contact_value=contact_value, presentation=presentation, presentations=presentations,
            level=level, after_days=after_days, created_at=created_at).id)

    def record_consent(self, *, conversation_id: str, consented: bool, channel: str | None,
                       at: datetime) -> None:
        def work(session: Session) -> None:
            conversation = lock_conversations(
                session, {conversation_id: (channel, at)})[conversation_id]
            apply_consent(conversation, consented, at)

        self._write("record_consent", work)


def apply_consent(conversation, consented: bool | None, at: datetime | None) -> None:
    """The latest consent wins, whichever path (action server or slot event) brings it."""
    if at is None or (conversation.consent_at is not None and at < conversation.consent_at):
        return
    conversation.consent, conversation.consent_at = consented, at
    conversation.last_activity_at = max(conversation.last_activity_at, at)
