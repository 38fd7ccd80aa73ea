"""Apply the Alembic migrations in `server/migrations` to the configured database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"
# PostgreSQL's generated, lower-cased copy of a member's name, email and phone (0011).
SEARCH_TEXT = "search_text"


def alembic_config(engine: Engine) -> Config:
    """An Alembic config without an ini file; the engine decides the database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Bring the schema up to date; safe to run on every start (no-op when current)."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def head_revision(engine: Engine) -> str | None:
    """The newest revision in the migration scripts."""
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def schema_state(engine: Engine, head: str | None) -> str:
    """ "ok", "not migrated" (run `sonta migrate`) or "unavailable" (cannot connect)."""
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except Exception:  # any driver or pool failure means "not reachable"
        return "unavailable"
    return "ok" if current == head else "not migrated"


def include_object(
    _object: object, name: str | None, type_: str, _reflected: bool, _compare_to: object
) -> bool:
    """What schema comparison looks at: not the trigram indexes of migrations 0009 and
    0011, which exist only on PostgreSQL where pg_trgm may be created, nor the generated
    `members.search_text` of 0011 (PostgreSQL only), so the models cannot name them."""
    if type_ == "column":
        return name != SEARCH_TEXT
    return not (type_ == "index" and name is not None and name.endswith("_trgm"))
