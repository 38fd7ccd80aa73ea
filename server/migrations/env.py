"""Alembic environment: runs on the connection handed over by `server.backend.tasks.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from server.backend.models import Base
from server.backend.tasks.migrate import include_object


def run_migrations_online() -> None:
    connection: Connection | None = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `sonta migrate`, which supplies the database")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
