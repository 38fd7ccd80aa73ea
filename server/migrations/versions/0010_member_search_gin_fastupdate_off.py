"""Member search's trigram indexes take new members at once, not in a pending list.

With GIN's default `fastupdate`, inserted rows wait in a pending list until a vacuum
merges them, and every search reads that whole list: after seeding 50,000 members the
email index scan took 15 ms for no match (0.05 ms once merged), and the planner, costing
the indexes by their pending lists, sent a search for one member to a 50,000-row scan
(270 ms instead of 0.9 ms). Members are written rarely (edits, CSV imports) and searched
often, so the indexes pay at insert instead. Nothing to do where 0009 made no indexes.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = ("ix_members_full_name_trgm", "ix_members_email_trgm", "ix_members_phone_trgm")


def _existing(bind: sa.Connection) -> list[str]:
    if bind.dialect.name != "postgresql":
        return []
    exists = sa.text("SELECT to_regclass(:name) IS NOT NULL")
    return [name for name in INDEXES if bind.execute(exists, {"name": name}).scalar()]


def upgrade() -> None:
    bind = op.get_bind()
    for name in _existing(bind):
        op.execute(f"ALTER INDEX {name} SET (fastupdate = off)")
        # Merge what is already pending; later inserts go straight into the index.
        bind.execute(
            sa.text("SELECT gin_clean_pending_list(CAST(:name AS regclass))"), {"name": name}
        )


def downgrade() -> None:
    for name in _existing(op.get_bind()):
        op.execute(f"ALTER INDEX {name} RESET (fastupdate)")
