"""Member search finds a page of a common term in the name index alone, on PostgreSQL.

A common surname's first page walks the name index until it has a page of matches: at
50,000 members "mensah" passed 3,125 members before 21 matches, each read from the
table, because in name order every first name's other surnames come first. The name
index now also holds what a text search tests (`search_text`, the member code) and the
id namesakes are ordered by, so the walk stays in the index and only the page's rows
are read. On the benchmark's 50,000 members (EXPLAIN ANALYZE, best of 30, PostgreSQL
15) that page went from 1.06 ms and 3,252 buffers to 0.55 ms and 170; a rare term's
page, found through the trigram index either way, costs 0.03 ms more for looking its
14 rows up by id. Its key is still the name, as the models declare it; SQLite keeps its
plain name index.

An index-only scan skips the table only for pages the visibility map marks all-visible,
which vacuum keeps up. By default autovacuum waits for a fifth of a table to change;
members are written rarely but in bursts (imports, edits), so they are vacuumed once a
hundredth of them has changed instead.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08 03:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What a free-text search tests (0011's `search_text`, the member code) and the id that
# orders namesakes.
SEARCHED_COLUMNS = ("id", "search_text", "member_code")
VACUUM_SETTINGS = ("autovacuum_vacuum_scale_factor", "autovacuum_vacuum_insert_scale_factor")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_members_name")
    columns = ", ".join(SEARCHED_COLUMNS)
    op.execute(f"CREATE INDEX ix_members_name ON members (full_name) INCLUDE ({columns})")
    op.execute(f"ALTER TABLE members SET ({', '.join(f'{s} = 0.01' for s in VACUUM_SETTINGS)})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE members RESET ({', '.join(VACUUM_SETTINGS)})")
    op.execute("DROP INDEX ix_members_name")
    op.execute("CREATE INDEX ix_members_name ON members (full_name)")
