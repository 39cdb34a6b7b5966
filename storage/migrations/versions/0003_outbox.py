"""The outbox: outcomes and callback requests waiting for (or delivered to) the clinic's webhook.

Revision ID: 0003_outbox
Revises: 0002_follow_ups
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

from storage.models import JSONText, UTCDateTime

revision = "0003_outbox"
down_revision = "0002_follow_ups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("record_id", sa.Integer, nullable=False),
        sa.Column("conversation_id", sa.String(255),
                  sa.ForeignKey("conversations.sender_id",
                                name="fk_outbox_messages_conversation_id_conversations"),
                  nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("level", sa.String(16)),
        sa.Column("payload", JSONText),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("last_attempt_at", UTCDateTime),
        sa.Column("delivered_at", UTCDateTime),
        sa.Column("last_error", sa.String(200)),
        sa.UniqueConstraint("idempotency_key", name="uq_outbox_messages_idempotency_key"),
        sa.UniqueConstraint("kind", "record_id", name="uq_outbox_messages_record"),
    )
    pending = sa.text("status = 'pending'")
    op.create_index("ix_outbox_messages_pending", "outbox_messages", ["id"],
                    postgresql_where=pending, sqlite_where=pending)
    op.create_index("ix_outbox_messages_conversation", "outbox_messages",
                    ["conversation_id", "status", "id"])


def downgrade() -> None:
    op.drop_table("outbox_messages")
