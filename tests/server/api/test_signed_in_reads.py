"""Thread-pool hops per request. The signed-in read path (`SignedInReads`):
`/api/auth/me` and member search check the sign-in and read in one hop, on an autocommit
session that refuses writes, and still refuse an ended sign-in or a disabled admin at
once. Every other route's session opens without a hop, and closes without one after a
commit."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient
from psycopg.pq import TransactionStatus
from sqlalchemy import event, select, update

from server.backend.errors import ReadOnlyError
from server.backend.models import Admin, Member
from tests.server.utils import admin_headers, backend_of, bearer, login, make_admin

READS = ("/api/auth/me", "/api/members?q=ama&limit=5", "/api/members", "/api/members/ministries")


@contextmanager
def _hops(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Callable[..., Any]]]:
    """Each function the app hands to the thread pool meanwhile."""
    handed: list[Callable[..., Any]] = []
    real = anyio.to_thread.run_sync

    async def counted(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        handed.append(function)
        return await real(function, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(anyio.to_thread, "run_sync", counted)
        yield handed


def test_a_signed_in_read_is_one_thread_pool_hop(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = admin_headers(client)
    for path in READS:
        with _hops(monkeypatch) as handed:
            assert client.get(path, headers=headers).status_code == 200
        assert len(handed) == 1, (path, handed)
    # A route behind the ordinary session and sign-in dependencies, for contrast.
    with _hops(monkeypatch) as handed:
        assert client.get("/api/meetings", headers=headers).status_code == 200
    assert len(handed) > 1


def test_a_session_opens_on_the_event_loop_and_closes_there_after_a_commit(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = admin_headers(client)
    member = {"full_name": "Hop Count", "ministry": "Choir"}
    with _hops(monkeypatch) as committed:
        assert client.post("/api/members", json=member, headers=headers).status_code == 201
    with _hops(monkeypatch) as read:
        assert client.get("/api/meetings", headers=headers).status_code == 200
    assert "__enter__" not in _names(committed + read)
    # Only a session still holding a connection (a read: ROLLBACK owed) closes in the pool.
    assert [n for n in _names(committed) if n in ("close", "__exit__")] == []
    assert [n for n in _names(read) if n in ("close", "__exit__")] == ["close"]


def _names(functions: list[Callable[..., Any]]) -> list[str]:
    return [getattr(inspect.unwrap(getattr(f, "func", f)), "__name__", "") for f in functions]


def test_a_signed_in_read_opens_no_transaction(client: TestClient) -> None:
    """PostgreSQL reports, after each statement, whether a transaction is open: on the read
    path none is (no BEGIN was sent, so no ROLLBACK is owed)."""
    headers = admin_headers(client)
    states: list[TransactionStatus] = []

    def note(connection: Any, *_args: object) -> None:
        states.append(connection.connection.dbapi_connection.info.transaction_status)

    engine = backend_of(client).engine
    event.listen(engine, "after_cursor_execute", note)
    try:
        for path in READS:
            assert client.get(path, headers=headers).status_code == 200
    finally:
        event.remove(engine, "after_cursor_execute", note)
    assert states, "no statement was seen"
    assert set(states) == {TransactionStatus.IDLE}, states


def test_an_ended_sign_in_or_a_disabled_admin_is_refused_on_the_read_path(
    any_client: TestClient,
) -> None:
    client = any_client
    admin = make_admin(client)
    first = bearer(login(client, admin.email)["access_token"])
    second = bearer(login(client, admin.email)["access_token"])
    assert client.post("/api/auth/logout", headers=first).status_code == 204
    for path in READS:
        assert client.get(path, headers=first).status_code == 401, path
        assert client.get(path, headers=second).status_code == 200, path
    with backend_of(client).sessions() as session:
        session.execute(update(Admin).where(Admin.id == admin.id).values(is_active=False))
        session.commit()
    for path in READS:
        response = client.get(path, headers=second)
        assert response.status_code == 401, path
        assert "sign in again" in response.json()["detail"]
    assert client.get("/api/members").status_code == 401


def test_a_read_session_refuses_writes_and_changes_nothing(any_client: TestClient) -> None:
    backend = backend_of(any_client)
    with backend.read_sessions() as session:
        session.add(Member(full_name="Never Stored", ministry="Choir", member_code="NEVER2"))
        with pytest.raises(ReadOnlyError, match="only reads"):
            session.flush()
    with backend.read_sessions() as session, pytest.raises(ReadOnlyError, match="only reads"):
        session.execute(update(Admin).values(is_active=False))
    with backend.sessions() as session:
        assert session.scalars(select(Member.id)).first() is None
        assert session.scalars(select(Admin.id).where(Admin.is_active.is_(False))).first() is None
