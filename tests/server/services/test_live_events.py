"""Live attendance events: two backend instances on one Redis both stream an event that a
third publishes, and the stream is for signed-in admins only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient

from server.backend.api.routes import events
from server.backend.core.config import Settings
from server.backend.core.context import make_store
from server.backend.main import create_app
from server.backend.services import live_events
from tests.server.live import serve
from tests.server.sse import SseReader
from tests.server.utils import FAST_ARGON2, admin_headers, bearer, login, make_admin

pytestmark = [pytest.mark.network]


def _meeting(client: TestClient, headers: dict[str, str]) -> str:
    start = datetime.now(UTC) - timedelta(minutes=5)
    body = {
        "title": "Leaders' meeting",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
        "open_to_everyone": True,
    }
    response = client.post("/api/meetings", json=body, headers=headers)
    assert response.status_code == 201, response.text
    meeting_id: str = response.json()["id"]
    return meeting_id


@pytest.fixture
def two_replicas(pg_settings: Settings) -> Iterator[tuple[str, str]]:
    """Two backend instances served over real HTTP, sharing PostgreSQL and Redis."""
    with ExitStack() as stack:
        first, second = (
            stack.enter_context(serve(create_app(pg_settings, password_params=FAST_ARGON2)))
            for _ in range(2)
        )
        yield first, second


def test_two_replicas_both_stream_an_event_published_by_a_third(
    client: TestClient, pg_settings: Settings, two_replicas: tuple[str, str]
) -> None:
    admin = make_admin(client)
    headers = bearer(login(client, admin.email)["access_token"])
    meeting_id = _meeting(client, headers)
    ticket = client.post(f"/api/meetings/{meeting_id}/events/ticket", headers=headers).json()
    first = SseReader(f"{two_replicas[0]}/api/meetings/{meeting_id}/events", headers).start()
    second = SseReader(
        f"{two_replicas[1]}/api/meetings/{meeting_id}/events?ticket={ticket['ticket']}"
    ).start()
    assert (first.status, second.status) == (200, 200)

    third = make_store(pg_settings)
    try:
        record = {"id": str(uuid.uuid4()), "member_name": "Ama Mensah", "status": "approved"}
        sent = live_events.publish(
            third,
            event_type="attendance.recorded",
            meeting_id=uuid.UUID(meeting_id),
            record=record,
        )
    finally:
        third.close()

    for reader in (first, second):
        [(name, data)] = reader.join()
        assert name == "attendance.recorded"
        assert data["id"] == sent.id and data["meeting_id"] == meeting_id
        assert data["record"] == record


def test_events_of_another_meeting_are_not_streamed(
    client: TestClient, pg_settings: Settings, two_replicas: tuple[str, str]
) -> None:
    headers = admin_headers(client)
    watched, other = _meeting(client, headers), _meeting(client, headers)
    reader = SseReader(f"{two_replicas[0]}/api/meetings/{watched}/events", headers).start()
    store = make_store(pg_settings)
    try:
        for meeting_id, status in ((other, "rejected"), (watched, "approved")):
            live_events.publish(
                store,
                event_type="attendance.reviewed",
                meeting_id=uuid.UUID(meeting_id),
                record={"status": status},
            )
    finally:
        store.close()
    [(_name, data)] = reader.join()
    assert (data["meeting_id"], data["record"]) == (watched, {"status": "approved"})


def test_a_stream_ticket_works_once_and_for_its_meeting_only(
    client: TestClient, two_replicas: tuple[str, str]
) -> None:
    headers = admin_headers(client)
    meeting_id, other = _meeting(client, headers), _meeting(client, headers)
    ticket = client.post(f"/api/meetings/{meeting_id}/events/ticket", headers=headers).json()
    assert ticket["expires_in"] == live_events.STREAM_TICKET_TTL
    url = f"{two_replicas[0]}/api/meetings/{{}}/events?ticket={ticket['ticket']}"
    wrong_meeting = httpx.get(url.format(other), timeout=5, trust_env=False)
    assert wrong_meeting.status_code == 401
    # Taking the ticket for the wrong meeting used it up.
    again = httpx.get(url.format(meeting_id), timeout=5, trust_env=False)
    assert again.status_code == 401
    assert "already used or has expired" in again.json()["detail"]


def test_the_stream_needs_a_signed_in_admin_and_a_real_meeting(
    client: TestClient, two_replicas: tuple[str, str]
) -> None:
    headers = admin_headers(client)
    meeting_id = _meeting(client, headers)
    base = f"{two_replicas[1]}/api/meetings"
    anonymous = httpx.get(f"{base}/{meeting_id}/events", timeout=5, trust_env=False)
    assert anonymous.status_code == 401
    forged = httpx.get(
        f"{base}/{meeting_id}/events", headers=bearer("not.a.token"), timeout=5, trust_env=False
    )
    assert forged.status_code == 401
    missing = httpx.get(
        f"{base}/{uuid.uuid4()}/events", headers=headers, timeout=5, trust_env=False
    )
    assert missing.status_code == 404
    assert client.post(f"/api/meetings/{meeting_id}/events/ticket").status_code == 401


def test_the_embedded_store_streams_within_one_process(embedded_settings: Settings) -> None:
    app = create_app(embedded_settings, password_params=FAST_ARGON2)
    with serve(app) as url:
        # Not entered: the served app's lifespan built the one backend both share.
        local = TestClient(app)
        headers = admin_headers(local)
        meeting_id = _meeting(local, headers)
        reader = SseReader(f"{url}/api/meetings/{meeting_id}/events", headers).start()
        live_events.publish(
            app.state.backend.store,
            event_type="attendance.deleted",
            meeting_id=uuid.UUID(meeting_id),
            record={"id": "gone"},
        )
        [(name, data)] = reader.join()
    assert (name, data["record"]) == ("attendance.deleted", {"id": "gone"})


def test_a_stream_ends_when_its_sign_in_ends(
    client: TestClient, two_replicas: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "REVALIDATE_SECONDS", 0.5)
    admin = make_admin(client)
    access = login(client, admin.email)["access_token"]
    meeting_id = _meeting(client, bearer(access))
    ticket = client.post(f"/api/meetings/{meeting_id}/events/ticket", headers=bearer(access))
    url = f"{two_replicas[0]}/api/meetings/{meeting_id}/events"
    by_header = SseReader(url, bearer(access)).start()
    by_ticket = SseReader(f"{url}?ticket={ticket.json()['ticket']}").start()
    assert client.post("/api/auth/logout", headers=bearer(access)).status_code == 204
    for reader in (by_header, by_ticket):
        assert reader.join() == [("session.ended", {})]
