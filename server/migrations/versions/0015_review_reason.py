"""Attendance review reason: why a pending check-in waits for a reviewer.

A kiosk of an earlier release recognises everyone at a meeting that expects nobody; its
check-ins are kept for review, saying so, instead of counting.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attendance_records", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("review_reason", sa.String(length=300), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("attendance_records", schema=None) as batch_op:
        batch_op.drop_column("review_reason")
