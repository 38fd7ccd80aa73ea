"""Check-in attempts: refused and suspicious phone and kiosk attempts, for admins.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 08:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "checkin_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("meeting_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("similarity", sa.Double(), nullable=True),
        sa.Column("kiosk_id", sa.Uuid(), nullable=True),
        sa.Column("client_ip", sa.String(length=64), nullable=False),
        sa.Column("location_flag", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["kiosk_id"], ["kiosks.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("checkin_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checkin_attempts_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_checkin_attempts_meeting_id"), ["meeting_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("checkin_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkin_attempts_meeting_id"))
        batch_op.drop_index(batch_op.f("ix_checkin_attempts_at"))
    op.drop_table("checkin_attempts")
