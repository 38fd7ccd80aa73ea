"""Refused check-in attempts are kept for admins (a list, and the live stream), and live
attendance events name the member, so an admin screen can say who arrived."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from server.backend.core.config import Settings
from server.backend.main import create_app
from tests.server.kiosk_utils import make_meeting, make_member, pair_kiosk
from tests.server.live import serve
from tests.server.services.test_checkin_upload import item, upload
from tests.server.sse import SseReader
from tests.server.utils import FAST_ARGON2, admin_headers

pytestmark = [pytest.mark.network]


@pytest.fixture
def replica(pg_settings: Settings) -> Iterator[str]:
    """A second backend over real HTTP on the same PostgreSQL and Redis."""
    with serve(create_app(pg_settings, password_params=FAST_ARGON2)) as url:
        yield url


def test_a_refused_kiosk_checkin_is_listed_and_streamed_with_the_members_name(
    client: TestClient, replica: str
) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    ama = make_member(client, admin, "Ama Mensah")
    meeting = make_meeting(client, admin)
    stream = SseReader(f"{replica}/api/meetings/{meeting}/events", admin, wanted=2).start()

    [refused] = upload(client, kiosk, [item(client, meeting, ama, similarity=0.12)])
    assert refused["result"] == "refused"
    [stored] = upload(client, kiosk, [item(client, meeting, ama)])
    assert stored["result"] == "recorded"

    listed = client.get("/api/attempts", params={"meeting_id": meeting}, headers=admin).json()
    assert listed["count"] == 1
    [attempt] = listed["data"]
    assert (attempt["channel"], attempt["outcome"], attempt["member_name"]) == (
        "kiosk",
        "refused",
        "Ama Mensah",
    )
    assert "not similar enough" in attempt["reason"] and attempt["kiosk_id"] == kiosk.id
    events = dict(stream.join())
    assert events["attempt.recorded"]["record"]["id"] == attempt["id"]
    assert events["attempt.recorded"]["record"]["member_name"] == "Ama Mensah"
    assert events["attendance.recorded"]["record"]["member_name"] == "Ama Mensah"
    assert events["attendance.recorded"]["record"]["ministry"] == "Choir"


def test_a_resent_refusal_is_recorded_once(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk = pair_kiosk(client, admin)
    ama = make_member(client, admin, "Ama Mensah")
    meeting = make_meeting(client, admin)
    refused = item(client, meeting, ama, similarity=0.12)
    upload(client, kiosk, [refused])
    upload(client, kiosk, [refused])
    assert client.get("/api/attempts", headers=admin).json()["count"] == 1


def test_attempts_are_for_admins_only(client: TestClient) -> None:
    assert client.get("/api/attempts").status_code == 401
    admin = admin_headers(client)
    bad = client.get("/api/attempts", params={"channel": "fax"}, headers=admin)
    assert bad.status_code == 422
