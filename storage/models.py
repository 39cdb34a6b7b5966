"""Tables: Rasa's `events` (written by Rasa's SQL tracker store) and the project's own.

The migrations in storage/migrations create exactly these; tests compare the two.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Sequence,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import declarative_base
from sqlalchemy.types import DateTime, TypeDecorator

from knowledge.model import LEVELS

# Triage levels, most urgent first, with the rank the console sorts on (0 = no outcome yet):
# emergency 4 ... self_care 1, as stored in conversations.urgency_rank.
LEVEL_RANKS = {level: len(LEVELS) - index for index, level in enumerate(LEVELS)}
REVIEW_STATUSES = ("new", "reviewed", "follow_up")
HANDOFF_STATUSES = ("open", "contacted", "closed")
CONTACT_METHODS = ("phone", "email")
ROLES = ("clinician", "admin")
# Check-ins a patient asked for (storage/followups.py): by text message to the number they gave,
# or in the chat they were using.
FOLLOW_UP_STATUSES = ("scheduled", "sent", "failed", "cancelled")
FOLLOW_UP_METHODS = ("sms", "chat")
OUTBOX_KINDS = ("triage_outcome", "callback_request")
OUTBOX_STATUSES = ("pending", "delivered", "failed")

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})
Base = declarative_base(metadata=metadata)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on PostgreSQL and on SQLite (which stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


class JSONText(TypeDecorator):
    """JSON kept as text, so LIKE works on it the same way on both databases."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else json.dumps(value, sort_keys=True)

    def process_result_value(self, value, dialect):
        return None if value is None else json.loads(value)


class Event(Base):
    """Rasa 3.6 SQLTrackerStore.SQLEvent, column for column, plus the console's indexes."""

    __tablename__ = "events"
    id = Column(Integer, Sequence("events_seq", optional=True), primary_key=True)
    sender_id = Column(String(255), nullable=False, index=True)
    type_name = Column(String(255), nullable=False)
    timestamp = Column(Float)
    intent_name = Column(String(255))
    action_name = Column(String(255))
    data = Column(Text)

    __table_args__ = (
        Index("ix_events_sender_id_timestamp", "sender_id", "timestamp"),
        Index("ix_events_type_name_timestamp", "type_name", "timestamp"),
    )


class Conversation(Base):
    """One row per Rasa sender id: the projection the console lists and filters."""

    __tablename__ = "conversations"
    sender_id = Column(String(255), primary_key=True)
    channel = Column(String(64))
    started_at = Column(UTCDateTime)
    last_activity_at = Column(UTCDateTime, nullable=False)
    consent = Column(Boolean)
    consent_at = Column(UTCDateTime)
    max_level = Column(String(16))
    urgency_rank = Column(SmallInteger, nullable=False, default=0)
    red_flags = Column(JSONText, nullable=False, default=list)
    latest_outcome_id = Column(Integer)
    review_status = Column(String(16), nullable=False, default="new")
    # Redacted first patient message and redacted patient text (PostgreSQL adds a tsvector of it).
    preview = Column(Text)
    search_text = Column(Text)
    # Set when the text of a conversation without consent was deleted.
    text_purged_at = Column(UTCDateTime)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index("ix_conversations_order", "urgency_rank", "last_activity_at", "sender_id"),
        Index("ix_conversations_status_order",
              "review_status", "urgency_rank", "last_activity_at", "sender_id"),
        Index("ix_conversations_channel_order",
              "channel", "urgency_rank", "last_activity_at", "sender_id"),
        Index("ix_conversations_last_activity_at", "last_activity_at"),
    )


class TriageOutcome(Base):
    __tablename__ = "triage_outcomes"
    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), ForeignKey("conversations.sender_id"), nullable=False)
    event_key = Column(String(128), nullable=False)
    level = Column(String(16), nullable=False)
    urgency_rank = Column(SmallInteger, nullable=False)
    red_flags = Column(JSONText, nullable=False, default=list)
    rules = Column(JSONText, nullable=False, default=list)
    protocol_version = Column(String(32))
    plan = Column(JSONText, nullable=False, default=list)
    reason = Column(Text)
    sources = Column(JSONText, nullable=False, default=list)
    findings = Column(JSONText)
    channel = Column(String(64))
    created_at = Column(UTCDateTime, nullable=False)
    # "action_server" when written live, "reconciled" when the projector found it in the events.
    source = Column(String(16), nullable=False)
    recorded_at = Column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (
        UniqueConstraint("conversation_id", "event_key", name="uq_triage_outcomes_event"),
        Index("ix_triage_outcomes_conversation_created", "conversation_id", "created_at"),
    )


class HandoffRequest(Base):
    __tablename__ = "handoff_requests"
    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), ForeignKey("conversations.sender_id"), nullable=False,
                             index=True)
    contact_method = Column(String(16), nullable=False)
    contact_value = Column(String(320), nullable=False)
    consented = Column(Boolean, nullable=False)
    level = Column(String(16))
    channel = Column(String(64))
    status = Column(String(16), nullable=False, default="open")
    created_at = Column(UTCDateTime, nullable=False)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_by = Column(String(320))

    __table_args__ = (Index("ix_handoff_requests_status_created", "status", "created_at"),)


class FollowUp(Base):
    """A check-in the patient asked for after a self-care or routine outcome. The number is kept
    only until the check-in is sent or cancelled."""

    __tablename__ = "follow_ups"
    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), ForeignKey("conversations.sender_id"), nullable=False,
                             index=True)
    channel = Column(String(64))
    contact_method = Column(String(16), nullable=False)
    # E.164 for "sms"; empty for "chat" (the conversation id is the address) and once done.
    contact_value = Column(String(32), nullable=False, default="")
    presentation = Column(String(64), nullable=False)
    presentations = Column(JSONText, nullable=False, default=list)
    level = Column(String(16), nullable=False)
    after_days = Column(SmallInteger, nullable=False)
    due_at = Column(UTCDateTime, nullable=False)
    status = Column(String(16), nullable=False, default="scheduled")
    attempts = Column(SmallInteger, nullable=False, default=0)
    # The last failure's exception class, never its message (it may hold the number).
    last_error = Column(String(64))
    created_at = Column(UTCDateTime, nullable=False)
    sent_at = Column(UTCDateTime)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_by = Column(String(320))

    __table_args__ = (Index("ix_follow_ups_status_due", "status", "due_at"),)


class Review(Base):
    __tablename__ = "reviews"
    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), ForeignKey("conversations.sender_id"), nullable=False,
                             index=True)
    status = Column(String(16), nullable=False)
    reviewer = Column(String(320), nullable=False)
    note = Column(Text)
    follow_up = Column(Boolean, nullable=False, default=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class StaffUser(Base):
    __tablename__ = "staff_users"
    id = Column(Integer, primary_key=True)
    email = Column(String(320), nullable=False, unique=True)
    password_hash = Column(String(255), nullable=False)
    role = Column(String(16), nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    last_login_at = Column(UTCDateTime)
    # Bumped at logout: every cookie issued before stops working.
    session_epoch = Column(Integer, nullable=False, default=0)


class AuditEntry(Base):
    """Who did what, when. Never patient content; the conversation only as a keyed hash."""

    __tablename__ = "audit_log"
    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    actor = Column(String(320), nullable=False)
    action = Column(String(32), nullable=False)
    target_ref = Column(String(64), index=True)
    details = Column(JSONText)


class LoginThrottle(Base):
    """The sign-in back-off, shared by every web replica: failed sign-ins per typed account (a
    keyed hash of what was typed) or per address (failures on unknown accounts)."""

    __tablename__ = "login_throttle"
    key = Column(String(400), primary_key=True)
    failures = Column(Integer, nullable=False, default=0)
    # The latest failure: the window of counted failures restarts at each one.
    window_started_at = Column(UTCDateTime, nullable=False)
    # No attempt before this time (the back-off's current wait).
    locked_until = Column(UTCDateTime)


class ProjectorState(Base):
    __tablename__ = "projector_state"
    name = Column(String(64), primary_key=True)
    last_event_id = Column(Integer, nullable=False, default=0)
    # When a hole in the event ids was first seen (a transaction not yet committed, or a rollback).
    gap_seen_at = Column(UTCDateTime)


class OutboxMessage(Base):
    """A triage outcome or callback request for the clinic's system, written in the same
    transaction as the record; the webhook worker (storage/outbox.py) posts it and marks it."""

    __tablename__ = "outbox_messages"
    id = Column(Integer, primary_key=True)
    # Sent with every attempt: the receiver keeps the first message with a key and drops repeats.
    idempotency_key = Column(String(64), nullable=False, unique=True)
    kind = Column(String(32), nullable=False)
    # triage_outcomes.id or handoff_requests.id
    record_id = Column(Integer, nullable=False)
    conversation_id = Column(String(255), ForeignKey("conversations.sender_id"), nullable=False)
    # 1, 2, ... within the conversation: delivered in this order.
    sequence = Column(Integer, nullable=False)
    level = Column(String(16))
    # What is sent, frozen when written (storage/fhir_export.py renders it); cleared once delivered.
    payload = Column(JSONText)
    status = Column(String(16), nullable=False, default="pending")
    attempts = Column(Integer, nullable=False, default=0)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    next_attempt_at = Column(UTCDateTime, nullable=False)
    last_attempt_at = Column(UTCDateTime)
    delivered_at = Column(UTCDateTime)
    # The last failure in a few words (an HTTP status or an exception class; never content).
    last_error = Column(String(200))

    __table_args__ = (
        UniqueConstraint("kind", "record_id", name="uq_outbox_messages_record"),
        # The worker's queue: pending messages in id order (partial: delivered ones drop out).
        Index("ix_outbox_messages_pending", "id", postgresql_where=text("status = 'pending'"),
              sqlite_where=text("status = 'pending'")),
        Index("ix_outbox_messages_conversation", "conversation_id", "status", "id"),
    )
