"""Meeting kiosks: which kiosks take a meeting's check-ins (none listed: every kiosk).

A kiosk's gallery sync then carries only the people of the meetings it serves.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 09:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kiosk_ids", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_column("kiosk_ids")
