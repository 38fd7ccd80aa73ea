"""The request pool on a real PostgreSQL: a connection in steady use is not pinged (a
ping is a round trip on every request), one that sat idle is, and a connection the
server dropped is replaced, whether it was idle or in use."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from server.backend.core import db
from server.backend.core.config import Settings
from tests.conftest import PG


@pytest.fixture
def engine(pg_settings: Settings) -> Iterator[Engine]:
    engine = db.make_engine(pg_settings)
    yield engine
    engine.dispose()


@pytest.fixture
def pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Each ping the pool sends (the real ping still runs)."""
    sent: list[object] = []
    real: Callable[[Any], bool] = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        sent.append(dbapi_connection)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return sent


def _server_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(text("SELECT pg_backend_pid()")) or 0)


def _terminate(pid: int) -> None:
    with psycopg.connect(**PG, dbname="postgres", autocommit=True) as admin:  # type: ignore[arg-type]
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_a_connection_in_steady_use_is_not_pinged(engine: Engine, pings: list[object]) -> None:
    pids = {_server_pid(engine) for _ in range(50)}
    assert len(pids) == 1, "the pool should reuse its one connection"
    assert pings == [], f"{len(pings)} pings for 50 checkouts one after another"


def test_an_idle_connection_is_pinged_and_a_dropped_one_replaced(
    engine: Engine, pings: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _server_pid(engine)
    _terminate(before)  # as a restart, a proxy or a firewall would, while it sat idle
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
    after = _server_pid(engine)  # no error reaches the caller
    assert after != before
    assert len(pings) == 1


def test_a_connection_dropped_in_use_fails_once_then_the_pool_recovers(engine: Engine) -> None:
    with engine.connect() as first, engine.connect() as second:
        pids = [
            int(connection.scalar(text("SELECT pg_backend_pid()")) or 0)
            for connection in (first, second)
        ]
    for pid in pids:
        _terminate(pid)  # both dropped, neither idle long enough to be pinged
    with pytest.raises(DBAPIError) as failed, engine.connect() as connection:
        connection.scalar(text("SELECT 1"))
    assert failed.value.connection_invalidated
    # The drop invalidated the whole pool: the other dead connection is never handed out.
    assert set(pids).isdisjoint({_server_pid(engine) for _ in range(5)})
