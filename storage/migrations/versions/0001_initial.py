"""Rasa's events table (if Rasa has not made it yet) with the console's indexes, and our tables.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

from storage.models import JSONText, UTCDateTime

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def _existing_indexes(table: str) -> set[str]:
    return {index["name"] for index in sa.inspect(op.get_bind()).get_indexes(table)}


def _create_events_table() -> None:
    """Rasa 3.6's SQLEvent schema exactly, so that Rasa's create_all finds it present."""
    bind = op.get_bind()
    if not sa.inspect(bind).has_table("events"):
        # PostgreSQL's own name for the key, as Rasa's create_all would leave it.
        pk_name = op.f("events_pkey") if bind.dialect.name == "postgresql" else None
        op.create_table(
            "events",
            sa.Column("id", sa.Integer),
            sa.Column("sender_id", sa.String(255), nullable=False),
            sa.Column("type_name", sa.String(255), nullable=False),
            sa.Column("timestamp", sa.Float),
            sa.Column("intent_name", sa.String(255)),
            sa.Column("action_name", sa.String(255)),
            sa.Column("data", sa.Text),
            sa.PrimaryKeyConstraint("id", name=pk_name),
        )
    wanted = {
        "ix_events_sender_id": ["sender_id"],
        "ix_events_sender_id_timestamp": ["sender_id", "timestamp"],
        "ix_events_type_name_timestamp": ["type_name", "timestamp"],
    }
    present = _existing_indexes("events")
    for name, columns in wanted.items():
        if name not in present:
            op.create_index(name, "events", columns)


def _create_project_tables() -> None:
    op.create_table(
        "conversations",
        sa.Column("sender_id", sa.String(255), primary_key=True),
        sa.Column("channel", sa.String(64)),
        sa.Column("started_at", UTCDateTime),
        sa.Column("last_activity_at", UTCDateTime, nullable=False),
        sa.Column("consent", sa.Boolean),
        sa.Column("consent_at", UTCDateTime),
        sa.Column("max_level", sa.String(16)),
        sa.Column("urgency_rank", sa.SmallInteger, nullable=False),
        sa.Column("red_flags", JSONText, nullable=False),
        sa.Column("latest_outcome_id", sa.Integer),
        sa.Column("review_status", sa.String(16), nullable=False),
        sa.Column("preview", sa.Text),
        sa.Column("search_text", sa.Text),
        sa.Column("text_purged_at", UTCDateTime),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_conversations_order", "conversations",
                    ["urgency_rank", "last_activity_at", "sender_id"])
    op.create_index("ix_conversations_status_order", "conversations",
                    ["review_status", "urgency_rank", "last_activity_at", "sender_id"])
    op.create_index("ix_conversations_channel_order", "conversations",
                    ["channel", "urgency_rank", "last_activity_at", "sender_id"])
    op.create_index("ix_conversations_last_activity_at", "conversations", ["last_activity_at"])
    if op.get_bind().dialect.name == "postgresql":
        # Full-text search over the redacted patient text; SQLite falls back to LIKE.
        op.execute("ALTER TABLE conversations ADD COLUMN search_vector tsvector "
                   "GENERATED ALWAYS AS (to_tsvector('english', coalesce(search_text, ''))) STORED")
        op.execute("CREATE INDEX ix_conversations_search_vector ON conversations "
                   "USING gin (search_vector)")

    op.create_table(
        "triage_outcomes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("conversation_id", sa.String(255),
                  sa.ForeignKey("conversations.sender_id",
                                name="fk_triage_outcomes_conversation_id_conversations"),
                  nullable=False),
        sa.Column("event_key", sa.String(128), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("urgency_rank", sa.SmallInteger, nullable=False),
        sa.Column("red_flags", JSONText, nullable=False),
        sa.Column("rules", JSONText, nullable=False),
        sa.Column("protocol_version", sa.String(32)),
        sa.Column("plan", JSONText, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("sources", JSONText, nullable=False),
        sa.Column("findings", JSONText),
        sa.Column("channel", sa.String(64)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("conversation_id", "event_key", name="uq_triage_outcomes_event"),
    )
    op.create_index("ix_triage_outcomes_conversation_created", "triage_outcomes",
                    ["conversation_id", "created_at"])

    op.create_table(
        "handoff_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("conversation_id", sa.String(255),
                  sa.ForeignKey("conversations.sender_id",
                                name="fk_handoff_requests_conversation_id_conversations"),
                  nullable=False),
        sa.Column("contact_method", sa.String(16), nullable=False),
        sa.Column("contact_value", sa.String(320), nullable=False),
        sa.Column("consented", sa.Boolean, nullable=False),
        sa.Column("level", sa.String(16)),
        sa.Column("channel", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("updated_by", sa.String(320)),
    )
    op.create_index("ix_handoff_requests_conversation_id", "handoff_requests", ["conversation_id"])
    op.create_index("ix_handoff_requests_status_created", "handoff_requests",
                    ["status", "created_at"])

    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("conversation_id", sa.String(255),
                  sa.ForeignKey("conversations.sender_id",
                                name="fk_reviews_conversation_id_conversations"),
                  nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reviewer", sa.String(320), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("follow_up", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_reviews_conversation_id", "reviews", ["conversation_id"])

    op.create_table(
        "staff_users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_login_at", UTCDateTime),
        sa.Column("session_epoch", sa.Integer, nullable=False),
        sa.UniqueConstraint("email", name="uq_staff_users_email"),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target_ref", sa.String(64)),
        sa.Column("details", JSONText),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_target_ref", "audit_log", ["target_ref"])

    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("window_started_at", UTCDateTime, nullable=False),
        sa.Column("locked_until", UTCDateTime),
    )

    op.create_table(
        "projector_state",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("last_event_id", sa.Integer, nullable=False),
        sa.Column("gap_seen_at", UTCDateTime),
    )


def upgrade() -> None:
    _create_events_table()
    _create_project_tables()


def downgrade() -> None:
    for table in ("projector_state", "login_throttle", "audit_log", "staff_users", "reviews",
                  "handoff_requests", "triage_outcomes", "conversations"):
        op.drop_table(table)
    # `events` belongs to Rasa: only the console's indexes go.
    for name in ("ix_events_sender_id_timestamp", "ix_events_type_name_timestamp"):
        op.drop_index(name, table_name="events")
