"""Database engine and sessions for PostgreSQL or the embedded SQLite file.

A pooled connection is checked with a ping only when it has sat idle in the pool for
`IDLE_PING_SECONDS`: that is when a restart, a proxy or a firewall may have dropped it.
SQLAlchemy's `pool_pre_ping` pinged on every checkout, one extra round trip on every
request, busy or not. A connection dropped while in use fails its request once, and
SQLAlchemy then replaces every connection the pool held from before the drop.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker
from sqlalchemy.pool import NullPool, QueuePool

from server.backend.core.config import Settings
from server.backend.core.datadir import prepare_database_file
from server.backend.errors import ReadOnlyError

# Request pool: connections kept open, and extra ones opened under load.
POOL_SIZE = 10
POOL_OVERFLOW = 10
# Seconds a request waits for a connection before it is answered 503 "busy".
POOL_TIMEOUT = 2
# Seconds in the pool after which a connection is pinged before reuse.
IDLE_PING_SECONDS = 10.0
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
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(
            url,
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            pool_timeout=POOL_TIMEOUT,
            connect_args={"connect_timeout": 3},
        )
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Ping a connection on checkout if it sat in the pool `IDLE_PING_SECONDS` or more; a
    dead one is replaced before the request sees it."""

    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool discards this connection and checks out (or opens) another.
            raise exc.DisconnectionError(str(error)) from error

    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checked_out)


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


def make_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that only read, on the same pool: each statement runs on its own
    (autocommit), so a read costs no BEGIN and no ROLLBACK round trip. Any write through
    one is refused before it reaches the database."""
    sessions = sessionmaker(
        engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
    )
    event.listen(sessions, "before_flush", _refuse_flush)
    event.listen(sessions, "do_orm_execute", _refuse_writes)
    return sessions


def _refuse_flush(_session: Session, _context: Any, _instances: Any) -> None:
    raise ReadOnlyError


def _refuse_writes(state: ORMExecuteState) -> None:
    if not state.is_select:
        raise ReadOnlyError
