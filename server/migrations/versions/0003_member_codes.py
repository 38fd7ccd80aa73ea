"""Member codes: a short code per member, the phone flow's identifier besides email.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 08:30:00
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Same alphabet and length as server.backend.member_codes, frozen here on purpose:
# a migration must keep doing what it did when it was written.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def _codes(count: int) -> list[str]:
    codes: set[str] = set()
    while len(codes) < count:
        codes.add("".join(secrets.choice(_ALPHABET) for _ in range(6)))
    return list(codes)


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("member_code", sa.String(length=12), nullable=True))
    connection = op.get_bind()
    members = sa.table("members", sa.column("id", sa.Uuid()), sa.column("member_code"))
    ids = list(connection.execute(sa.select(members.c.id)).scalars())
    for member_id, code in zip(ids, _codes(len(ids)), strict=True):
        connection.execute(
            members.update().where(members.c.id == member_id).values(member_code=code)
        )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.alter_column("member_code", existing_type=sa.String(length=12), nullable=False)
        batch_op.create_index(batch_op.f("ix_members_member_code"), ["member_code"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_members_member_code"))
        batch_op.drop_column("member_code")
