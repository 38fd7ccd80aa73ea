"""Durable refresh-token families and single-use tokens (they survive a cache restart).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 08:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "refresh_families",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("admin_id", sa.Uuid(), nullable=False),
        sa.Column("current_jti", sa.String(length=64), nullable=False),
        sa.Column("previous_jti", sa.String(length=64), nullable=True),
        sa.Column("rotated_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["admin_id"], ["admins.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("refresh_families", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refresh_families_admin_id"), ["admin_id"])
        batch_op.create_index(batch_op.f("ix_refresh_families_expires_at"), ["expires_at"])
    op.create_table(
        "single_use_tokens",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("single_use_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_single_use_tokens_expires_at"), ["expires_at"])


def downgrade() -> None:
    with op.batch_alter_table("single_use_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_single_use_tokens_expires_at"))
    op.drop_table("single_use_tokens")
    with op.batch_alter_table("refresh_families", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_families_expires_at"))
        batch_op.drop_index(batch_op.f("ix_refresh_families_admin_id"))
    op.drop_table("refresh_families")
