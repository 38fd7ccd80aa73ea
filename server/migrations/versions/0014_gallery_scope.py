"""Gallery scope: meetings opened to everyone on purpose, and what each kiosk holds.

A meeting that lists nobody used to send every active member's face to every kiosk.
Now only a meeting an admin has opened to everyone does; meetings made before that
lists nobody are marked open to everyone here, so they keep working as they did.
Kiosks keep what their last gallery sync gave them (people, templates, meetings).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("open_to_everyone", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("kiosks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("gallery_synced_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("gallery_people", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("gallery_templates", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("gallery_meetings", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
    meetings = sa.table(
        "meetings",
        sa.column("id", sa.Uuid()),
        sa.column("expected_ministries", sa.JSON()),
        sa.column("expected_member_ids", sa.JSON()),
        sa.column("open_to_everyone", sa.Boolean()),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(meetings.c.id, meetings.c.expected_ministries, meetings.c.expected_member_ids)
    )
    open_ones = [r.id for r in rows if not (r.expected_ministries or r.expected_member_ids)]
    if open_ones:
        bind.execute(
            meetings.update().where(meetings.c.id.in_(open_ones)).values(open_to_everyone=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("kiosks", schema=None) as batch_op:
        for column in ("gallery_meetings", "gallery_templates", "gallery_people"):
            batch_op.drop_column(column)
        batch_op.drop_column("gallery_synced_at")
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_column("open_to_everyone")
