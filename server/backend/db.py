"""Database engine and sessions for PostgreSQL or the embedded SQLite file."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool, QueuePool

from server.backend.config import Settings
from server.backend.datadir import prepare_database_file

# Request pool: connections kept open, and extra ones opened under load.
POOL_SIZE = 10
POOL_OVERFLOW = 10
# Seconds a request waits for a connection before it is answered 503 "busy".
POOL_TIMEOUT = 2
# Seconds an embedded write waits for another writer's lock before it is refused as
# "locked by another program" (it waited 15 s, with no word why).
BUSY_SECONDS = 3


def make_engine(settings: Settings) -> Engine:
    """An engine with a pool fit for the backend; SQLite gets WAL and foreign keys."""
    url = settings.database_url()
    if settings.embedded_database:
        prepare_database_file(settings.sonta_data_dir / "sonta.db")
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": BUSY_SECONDS},
            pool_pre_ping=True,
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
        pool_pre_ping=True,
        pool_timeout=POOL_TIMEOUT,
        connect_args={"connect_timeout": 3},
    )


def make_probe_engine(settings: Settings) -> Engine:
    """An engine without a pool, for health probes: a busy request pool is not a dead database."""
    if settings.embedded_database:
        engine = create_engine(
            settings.database_url(),
            connect_args={"check_same_thread": False, "timeout": 2},
            poolclass=NullPool,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        settings.database_url(), poolclass=NullPool, connect_args={"connect_timeout": 3}
    )


def pool_usage(engine: Engine) -> dict[str, int]:
    """Connections of the request pool in use, and how many it may open."""
    pool = engine.pool
    if isinstance(pool, QueuePool):
        return {"in_use": pool.checkedout(), "limit": pool.size() + POOL_OVERFLOW}
    return {"in_use": 0, "limit": 0}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_SECONDS * 1000}")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
