"""Kiosk refusals: check-ins a kiosk sent that the server refused for good, for admins.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kiosk_refusals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kiosk_id", sa.Uuid(), nullable=True),
        sa.Column("kiosk_name", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("meeting_id", sa.String(length=100), nullable=False),
        sa.Column("member_id", sa.String(length=100), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("device_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("similarity", sa.Double(), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(["kiosk_id"], ["kiosks.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("kiosk_refusals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kiosk_refusals_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_kiosk_refusals_kiosk_id"), ["kiosk_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("kiosk_refusals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kiosk_refusals_kiosk_id"))
        batch_op.drop_index(batch_op.f("ix_kiosk_refusals_at"))
    op.drop_table("kiosk_refusals")
