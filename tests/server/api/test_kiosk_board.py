"""The kiosk idle screen's board: title, counts and the rotating phone check-in QR."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

from fastapi.testclient import TestClient

from kiosk.board import parse_board
from tests.server.kiosk_utils import make_meeting, make_member, pair_kiosk
from tests.server.utils import admin_headers


def board(client: TestClient, meeting_id: str, headers: dict[str, str]) -> dict[str, object]:
    response = client.get(f"/api/kiosk/meetings/{meeting_id}/board", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_a_paired_kiosk_reads_counts_and_a_working_qr_of_an_active_meeting(
    any_client: TestClient,
) -> None:
    admin = admin_headers(any_client)
    kiosk = pair_kiosk(any_client, admin)
    ama = make_member(any_client, admin, "Ama", enrol=False)
    kofi = make_member(any_client, admin, "Kofi", enrol=False)
    meeting = make_meeting(any_client, admin, title="Leaders", expected_member_ids=[ama, kofi])
    manual = any_client.post(
        f"/api/attendance/meetings/{meeting}/manual", json={"member_id": ama}, headers=admin
    )
    assert manual.status_code == 201, manual.text
    answer = board(any_client, meeting, kiosk.headers)
    assert (answer["title"], answer["present"], answer["expected"]) == ("Leaders", 1, 2)
    qr = answer["qr"]
    assert isinstance(qr, dict)
    assert datetime.fromisoformat(qr["expires_at"]) > datetime.now(UTC)
    token = parse_qs(urlparse(qr["url"]).query)["token"][0]
    assert token == qr["token"]
    scanned = any_client.post("/api/qr/validate", json={"token": token})
    assert scanned.status_code == 200, scanned.text


def test_a_meeting_not_started_has_no_qr_yet(any_client: TestClient) -> None:
    admin = admin_headers(any_client)
    kiosk = pair_kiosk(any_client, admin)
    meeting = make_meeting(any_client, admin, start=False, title="Later")
    answer = board(any_client, meeting, kiosk.headers)
    assert answer["qr"] is None and answer["status"] == "scheduled"


def test_the_board_needs_a_kiosk_credential(any_client: TestClient) -> None:
    admin = admin_headers(any_client)
    meeting = make_meeting(any_client, admin)
    anonymous = any_client.get(f"/api/kiosk/meetings/{meeting}/board")
    assert anonymous.status_code == 401
    as_admin = any_client.get(f"/api/kiosk/meetings/{meeting}/board", headers=admin)
    assert as_admin.status_code == 401


def test_a_running_meeting_whose_qr_window_closed_reads_as_started_without_a_qr(
    any_client: TestClient,
) -> None:
    """The kiosk then says phone check-in has closed, not that it opens at the start."""
    admin = admin_headers(any_client)
    kiosk = pair_kiosk(any_client, admin)
    meeting = make_meeting(any_client, admin, started_minutes_ago=130)  # ended 10 min ago
    shown = parse_board(board(any_client, meeting, kiosk.headers))
    assert shown.qr_url is None and shown.started
    later = make_meeting(any_client, admin, start=False, title="Later")
    assert not parse_board(board(any_client, later, kiosk.headers)).started
