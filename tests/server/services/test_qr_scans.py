"""Public QR scanning (issue 13): one client used up a meeting's scan budget and
harvested 50 tickets in 0.4 s. Scans are limited per client, and the budget is
counted when a ticket is used."""

from __future__ import annotations

from fastapi.testclient import TestClient

from server.backend.services.meeting_qr import SCANS_PER_CLIENT
from tests.server.attendance_utils import make_meeting
from tests.server.utils import admin_headers


def _token(client: TestClient, headers: dict[str, str], meeting_id: str) -> str:
    token: str = client.get(f"/api/meetings/{meeting_id}/qr", headers=headers).json()["token"]
    return token


def test_one_client_cannot_harvest_tickets(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    meeting = make_meeting(any_client, headers)
    token = _token(any_client, headers, meeting["id"])
    harvester = TestClient(any_client.app, client=("203.0.113.7", 50000))
    codes = [harvester.post("/api/qr/scan", json={"token": token}).status_code for _ in range(50)]
    assert codes == [200] * SCANS_PER_CLIENT.attempts + [429] * (50 - SCANS_PER_CLIENT.attempts)
    phone = TestClient(any_client.app, client=("198.51.100.20", 50000))
    assert phone.post("/api/qr/scan", json={"token": token}).status_code == 200


def test_harvested_tickets_leave_the_scan_budget_to_the_people_who_check_in(
    any_client: TestClient,
) -> None:
    headers = admin_headers(any_client)
    meeting = make_meeting(any_client, headers, qr_policy="max_scans", qr_max_scans=3)
    token = _token(any_client, headers, meeting["id"])
    harvester = TestClient(any_client.app, client=("203.0.113.7", 50000))
    for _ in range(10):
        assert harvester.post("/api/qr/scan", json={"token": token}).status_code == 200
    phone = TestClient(any_client.app, client=("198.51.100.20", 50000))
    ticket = phone.post("/api/qr/scan", json={"token": token}).json()["ticket"]
    assert phone.post("/api/qr/redeem", json={"ticket": ticket}).status_code == 200
    counted = any_client.get(f"/api/meetings/{meeting['id']}", headers=headers).json()
    assert counted["qr_scan_count"] == 1
