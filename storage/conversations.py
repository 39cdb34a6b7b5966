"""Conversation summary rows: creation, locking, outcome-derived fields, and erasure.

Shared by the repository (action server writes), the projector and the retention commands.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.db import is_postgresql
from storage.models import (
    LEVEL_RANKS,
    Conversation,
    Event,
    FollowUp,
    HandoffRequest,
    OutboxMessage,
    Review,
    TriageOutcome,
    utcnow,
)

# Children first: they reference conversations.sender_id.
_CONVERSATION_TABLES = (
    (TriageOutcome, TriageOutcome.conversation_id),
    (HandoffRequest, HandoffRequest.conversation_id),
    (FollowUp, FollowUp.conversation_id),
    (Review, Review.conversation_id),
    (OutboxMessage, OutboxMessage.conversation_id),
    (Event, Event.sender_id),
    (Conversation, Conversation.sender_id),
)
_IN_CHUNK = 500


def chunks(items: Sequence, size: int = _IN_CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def insert_ignore(session: Session, model, rows: list[dict], keys: list[str]) -> int:
    """INSERT ... ON CONFLICT DO NOTHING on PostgreSQL and SQLite; returns rows inserted."""
    if not rows:
        return 0
    dialect = postgresql if is_postgresql(session.bind) else sqlite
    inserted = 0
    for batch in chunks(rows):
        statement = dialect.insert(model).values(list(batch)).on_conflict_do_nothing(
            index_elements=keys)
        inserted += session.execute(statement).rowcount
    return inserted


def lock_conversations(session: Session, first_seen: dict[str, tuple[str | None, datetime]]
                       ) -> dict[str, Conversation]:
    """Make sure a summary row exists for each sender id, and lock those rows (in id order,
    so concurrent writers cannot deadlock). `first_seen` maps sender id -> (channel, time)."""
    ids = sorted(first_seen)
    insert_ignore(session, Conversation, [
        {"sender_id": sender_id, "channel": first_seen[sender_id][0],
         "started_at": first_seen[sender_id][1], "last_activity_at": first_seen[sender_id][1],
         "urgency_rank": 0, "red_flags": [], "review_status": "new", "updated_at": utcnow()}
        for sender_id in ids], ["sender_id"])
    locked: dict[str, Conversation] = {}
    for batch in chunks(ids):
        statement = (select(Conversation).where(Conversation.sender_id.in_(batch))
                     .order_by(Conversation.sender_id).with_for_update())
        locked.update({row.sender_id: row for row in session.execute(statement).scalars()})
    return locked


def refresh_outcome_fields(session: Session, conversations: Iterable[Conversation]) -> None:
    """Max level, urgency rank, red flags and latest outcome, from the triage_outcomes rows."""
    by_id = {conversation.sender_id: conversation for conversation in conversations}
    outcomes: dict[str, list[TriageOutcome]] = {sender_id: [] for sender_id in by_id}
    for batch in chunks(sorted(by_id)):
        statement = select(TriageOutcome).where(TriageOutcome.conversation_id.in_(batch))
        for outcome in session.execute(statement).scalars():
            outcomes[outcome.conversation_id].append(outcome)
    for sender_id, rows in outcomes.items():
        if not rows:
            continue
        conversation = by_id[sender_id]
        worst = max(rows, key=lambda row: (row.urgency_rank, row.created_at))
        latest = max(rows, key=lambda row: (row.created_at, row.id))
        conversation.max_level = worst.level
        conversation.urgency_rank = worst.urgency_rank
        conversation.red_flags = sorted({flag for row in rows for flag in row.red_flags})
        conversation.latest_outcome_id = latest.id
        conversation.last_activity_at = max(conversation.last_activity_at, latest.created_at)


def level_rank(level: str) -> int:
    try:
        return LEVEL_RANKS[level]
    except KeyError:
        raise ValueError(
            f"unknown triage level {level!r}; expected one of {list(LEVEL_RANKS)}") from None


def erase_conversations(session: Session, sender_ids: Sequence[str]) -> int:
    """Delete every row of these conversations in every table; returns conversations erased."""
    erased = 0
    for batch in chunks(sorted(sender_ids)):
        # Wait for a projector holding these rows (it re-checks the events once it has them).
        session.execute(select(Conversation.sender_id).where(Conversation.sender_id.in_(batch))
                        .order_by(Conversation.sender_id).with_for_update()).all()
        for model, column in _CONVERSATION_TABLES:
            result = session.execute(delete(model).where(column.in_(batch))
                                     .execution_options(synchronize_session=False))
            if model is Conversation:
                erased += result.rowcount
    return erased
