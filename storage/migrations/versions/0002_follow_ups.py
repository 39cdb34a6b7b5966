"""Check-ins patients asked for (follow_ups).

Revision ID: 0002_follow_ups
Revises: 0001_initial
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

from storage.models import JSONText, UTCDateTime

revision = "0002_follow_ups"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("conversation_id", sa.String(255),
                  sa.ForeignKey("conversations.sender_id",
                                name="fk_follow_ups_conversation_id_conversations"),
                  nullable=False),
        sa.Column("channel", sa.String(64)),
        sa.Column("contact_method", sa.String(16), nullable=False),
        sa.Column("contact_value", sa.String(32), nullable=False),
        sa.Column("presentation", sa.String(64), nullable=False),
        sa.Column("presentations", JSONText, nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("after_days", sa.SmallInteger, nullable=False),
        sa.Column("due_at", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.SmallInteger, nullable=False),
        sa.Column("last_error", sa.String(64)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("updated_by", sa.String(320)),
    )
    op.create_index("ix_follow_ups_conversation_id", "follow_ups", ["conversation_id"])
    op.create_index("ix_follow_ups_status_due", "follow_ups", ["status", "due_at"])


def downgrade() -> None:
    op.drop_table("follow_ups")
