"""The Alembic history matches the models on both databases, and runs both ways."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect

from server.backend.models import Base
from server.backend.tasks.migrate import alembic_config, include_object, upgrade_to_head


def _drift(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        opts = {"compare_type": True, "include_object": include_object}
        context = MigrationContext.configure(connection, opts=opts)
        return list(compare_metadata(context, Base.metadata))


def test_postgresql_schema_matches_the_models(pg_engine: Engine) -> None:
    assert _drift(pg_engine) == []


def test_sqlite_schema_matches_the_models(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/sonta.db")
    upgrade_to_head(engine)
    assert _drift(engine) == []


def test_sqlite_migrations_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/sonta.db")
    upgrade_to_head(engine)
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    upgrade_to_head(engine)
    assert "members" in inspect(engine).get_table_names()
