"""Meetings: schedule checks, life cycle, and the signed, rotating, single-use QR flow."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from fastapi.testclient import TestClient

from server.backend.core.security.qr import QrSigner
from server.backend.models import Meeting
from tests.server.utils import admin_headers, backend_of


def _meeting(client: TestClient, headers: dict[str, str], **fields: object) -> dict[str, object]:
    start = datetime.now(UTC) - timedelta(minutes=10)
    body = {
        "title": "Sonta Heads meeting",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
        "late_after": (start + timedelta(minutes=15)).isoformat(),
        "location_name": "Main auditorium",
        "latitude": 5.6037,
        "longitude": -0.187,
        "expected_ministries": ["Choir"],
        **fields,
    }
    response = client.post("/api/meetings", json=body, headers=headers)
    assert response.status_code == 201, response.text
    meeting: dict[str, object] = response.json()
    return meeting


def _active_meeting(client: TestClient, headers: dict[str, str], **fields: object) -> str:
    meeting_id = str(_meeting(client, headers, **fields)["id"])
    assert client.post(f"/api/meetings/{meeting_id}/start", headers=headers).status_code == 200
    return meeting_id


def _qr(client: TestClient, headers: dict[str, str], meeting_id: str) -> str:
    response = client.get(f"/api/meetings/{meeting_id}/qr", headers=headers)
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def test_meeting_qr_encodes_the_phone_check_in_page(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    meeting_id = _active_meeting(any_client, headers)
    code = any_client.get(f"/api/meetings/{meeting_id}/qr", headers=headers).json()
    url = httpx.URL(code["url"])
    assert url.path == "/checkin"
    assert url.params["token"] == code["token"]
    page = any_client.get(url.raw_path.decode())
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]


def test_meeting_life_cycle(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    meeting = _meeting(any_client, headers)
    url = f"/api/meetings/{meeting['id']}"
    assert meeting["status"] == "scheduled"
    assert any_client.post(f"{url}/end", headers=headers).status_code == 409
    assert any_client.post(f"{url}/start", headers=headers).json()["status"] == "active"
    assert any_client.post(f"{url}/start", headers=headers).status_code == 409
    ended = any_client.post(f"{url}/end", headers=headers).json()
    assert ended["status"] == "ended"
    assert ended["ended_at"] is not None
    assert any_client.patch(url, json={"title": "Renamed"}, headers=headers).status_code == 409


def test_cancel_and_update(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    meeting = _meeting(any_client, headers)
    url = f"/api/meetings/{meeting['id']}"
    updated = any_client.patch(
        url, json={"title": "Leaders' prayer", "radius_m": 250}, headers=headers
    )
    assert updated.json()["title"] == "Leaders' prayer"
    assert updated.json()["radius_m"] == 250
    assert any_client.post(f"{url}/cancel", headers=headers).json()["status"] == "cancelled"
    listed = any_client.get("/api/meetings", params={"status": "cancelled"}, headers=headers).json()
    assert [m["id"] for m in listed["data"]] == [meeting["id"]]


def test_inconsistent_schedule_is_refused_with_every_reason(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    now = datetime.now(UTC)
    body = {
        "title": "Backwards",
        "starts_at": now.isoformat(),
        "ends_at": (now - timedelta(hours=1)).isoformat(),
        "latitude": 5.6,
        "qr_policy": "max_scans",
    }
    response = any_client.post("/api/meetings", json=body, headers=headers)
    assert response.status_code == 422
    detail = response.json()["detail"]
    for reason in ("ends_at must be after starts_at", "latitude and longitude", "qr_max_scans"):
        assert reason in detail
    assert any_client.get("/api/meetings", headers=headers).json()["count"] == 0


def test_qr_code_only_for_an_active_meeting(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    meeting = _meeting(any_client, headers)
    assert any_client.get(f"/api/meetings/{meeting['id']}/qr", headers=headers).status_code == 409


def test_scanned_code_describes_the_meeting_and_gives_a_single_use_ticket(
    any_client: TestClient,
) -> None:
    headers = admin_headers(any_client)
    meeting_id = _active_meeting(any_client, headers)
    token = _qr(any_client, headers, meeting_id)
    info = any_client.post("/api/qr/validate", json={"token": token})
    assert info.status_code == 200
    assert info.json()["title"] == "Sonta Heads meeting"
    assert info.json()["radius_m"] == 100
    scanned = any_client.post("/api/qr/scan", json={"token": token}).json()
    ticket = scanned["ticket"]
    redeemed = any_client.post("/api/qr/redeem", json={"ticket": ticket})
    assert redeemed.json() == {"meeting_id": meeting_id}
    replay = any_client.post("/api/qr/redeem", json={"ticket": ticket})
    assert replay.status_code == 409
    assert "already used" in replay.json()["detail"]


def test_forged_qr_code_is_refused(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    meeting_id = _active_meeting(any_client, headers)
    token = _qr(any_client, headers, meeting_id)
    body, signature = token.split(".")
    other = _active_meeting(any_client, headers)
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["m"] = other
    payload["exp"] += 3600
    forged_body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    for forged in (
        f"{forged_body}.{signature}",
        QrSigner("another secret that is long enough!!").sign(uuid.UUID(meeting_id), lifetime=60)[
            0
        ],
        f"{body}.{signature[:-2]}AA",
        "not-a-code",
        f"{body}.",
    ):
        response = any_client.post("/api/qr/validate", json={"token": forged})
        assert response.status_code == 401, forged
        assert any_client.post("/api/qr/scan", json={"token": forged}).status_code == 401


def test_expired_qr_code_is_refused(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    meeting_id = _active_meeting(any_client, headers)
    settings = backend_of(any_client).settings
    assert settings.qr_secret
    past = QrSigner(settings.qr_secret, clock=lambda: time.time() - 120)
    old, _ = past.sign(uuid.UUID(meeting_id), lifetime=60)
    response = any_client.post("/api/qr/validate", json={"token": old})
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_codes_signed_with_the_previous_secret_still_verify_after_rotation(
    any_client: TestClient,
) -> None:
    previous = backend_of(any_client).settings.qr_secret
    assert previous
    rotated = QrSigner("a brand new qr secret, 32+ characters long", previous=[previous])
    old = QrSigner(previous).sign(uuid.uuid4(), lifetime=60)[0]
    assert rotated.verify(old).expires_at > time.time()
    new, _ = rotated.sign(uuid.uuid4(), lifetime=60)
    assert QrSigner("a brand new qr secret, 32+ characters long").verify(new)


def test_codes_of_an_ended_meeting_are_refused(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    meeting_id = _active_meeting(any_client, headers)
    token = _qr(any_client, headers, meeting_id)
    any_client.post(f"/api/meetings/{meeting_id}/end", headers=headers)
    assert any_client.post("/api/qr/validate", json={"token": token}).status_code == 401


def test_max_scans_policy_stops_check_ins_at_the_limit(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    meeting_id = _active_meeting(any_client, headers, qr_policy="max_scans", qr_max_scans=2)
    token = _qr(any_client, headers, meeting_id)
    scans = [any_client.post("/api/qr/scan", json={"token": token}) for _ in range(3)]
    assert [s.status_code for s in scans] == [200, 200, 200]  # counted when used
    used = [
        any_client.post("/api/qr/redeem", json={"ticket": s.json()["ticket"]}).status_code
        for s in scans
    ]
    assert used == [200, 200, 409]
    assert any_client.post("/api/qr/scan", json={"token": token}).status_code == 409
    meeting = any_client.get(f"/api/meetings/{meeting_id}", headers=headers).json()
    assert meeting["qr_scan_count"] == 2


def test_minutes_policy_closes_the_qr_window(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    meeting_id = _active_meeting(any_client, headers, qr_policy="minutes", qr_valid_minutes=5)
    token = _qr(any_client, headers, meeting_id)
    assert any_client.post("/api/qr/validate", json={"token": token}).status_code == 200
    # Six minutes later (moved in the database): the window has closed.
    with backend_of(any_client).sessions() as session:
        meeting = session.get(Meeting, uuid.UUID(meeting_id))
        assert meeting is not None
        meeting.started_at = datetime.now(UTC) - timedelta(minutes=6)
        session.commit()
    assert any_client.post("/api/qr/validate", json={"token": token}).status_code == 401
    assert any_client.get(f"/api/meetings/{meeting_id}/qr", headers=headers).status_code == 409


def test_qr_code_rotates(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    meeting_id = _active_meeting(any_client, headers, qr_rotation_seconds=15)
    first = any_client.get(f"/api/meetings/{meeting_id}/qr", headers=headers).json()
    second = any_client.get(f"/api/meetings/{meeting_id}/qr", headers=headers).json()
    assert first["token"] != second["token"]
    assert first["refresh_after_seconds"] == 15
    lifetime = datetime.fromisoformat(first["expires_at"]) - datetime.now(UTC)
    assert timedelta(seconds=20) < lifetime <= timedelta(seconds=30)


def test_meeting_start_is_published_as_an_event(client: TestClient) -> None:
    headers = admin_headers(client)
    subscription = backend_of(client).store.subscribe("events:meetings")
    try:
        meeting_id = _active_meeting(client, headers)
        message = subscription.get(timeout=2.0)
    finally:
        subscription.close()
    assert message is not None
    assert json.loads(message) == {"meeting_id": meeting_id, "status": "active"}


def test_expected_members_must_exist(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    member = any_client.post(
        "/api/members", json={"full_name": "Ama", "ministry": "Choir"}, headers=headers
    ).json()
    meeting = _meeting(any_client, headers, expected_member_ids=[member["id"], member["id"]])
    assert meeting["expected_member_ids"] == [member["id"]]
    unknown = str(uuid.uuid4())
    response = any_client.patch(
        f"/api/meetings/{meeting['id']}", json={"expected_member_ids": [unknown]}, headers=headers
    )
    assert response.status_code == 422
    assert unknown in response.json()["detail"]


def test_times_without_a_timezone_are_refused(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    naive = {"title": "t", "starts_at": "2030-01-01T10:00:00", "ends_at": "2030-01-01T12:00:00Z"}
    response = any_client.post("/api/meetings", json=naive, headers=headers)
    assert response.status_code == 422
    assert "timezone" in response.text
    listing = any_client.get(
        "/api/meetings", params={"starts_after": "2030-01-01T10:00:00"}, headers=headers
    )
    assert listing.status_code == 422
    meeting = _meeting(any_client, headers)
    update = any_client.patch(
        f"/api/meetings/{meeting['id']}",
        json={"late_after": "2030-01-01T10:00:00"},
        headers=headers,
    )
    assert update.status_code == 422


def test_a_meeting_must_say_who_is_expected_as_the_admin_form_does(any_client: TestClient) -> None:
    """Listing nobody without "Everyone" would give its kiosks nobody's face, silently."""
    headers = admin_headers(any_client)
    start = datetime.now(UTC) + timedelta(days=1)
    undecided = {
        "title": "Undecided",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
    }
    for body in (
        undecided,
        {**undecided, "expected_ministries": [], "expected_member_ids": []},
        {**undecided, "open_to_everyone": False},
    ):
        refused = any_client.post("/api/meetings", json=body, headers=headers)
        assert refused.status_code == 422, refused.text
        detail = refused.json()["detail"]
        assert detail.startswith("Say who is expected at this meeting")
        assert "expected_ministries" in detail and "open_to_everyone to true" in detail
    assert any_client.get("/api/meetings", headers=headers).json()["count"] == 0
    member = any_client.post(
        "/api/members", json={"full_name": "Ama", "ministry": "Choir"}, headers=headers
    ).json()
    for choice in (
        {"expected_ministries": ["Choir"]},
        {"expected_member_ids": [member["id"]]},
        {"open_to_everyone": True},
    ):
        made = any_client.post("/api/meetings", json={**undecided, **choice}, headers=headers)
        assert made.status_code == 201, made.text
    # An update that would leave nobody expected is refused and changes nothing.
    meeting = _meeting(any_client, headers)
    url = f"/api/meetings/{meeting['id']}"
    emptied = any_client.patch(url, json={"expected_ministries": []}, headers=headers)
    assert emptied.status_code == 422
    assert "Say who is expected" in emptied.json()["detail"]
    assert any_client.get(url, headers=headers).json()["expected_ministries"] == ["Choir"]
    opened = {"expected_ministries": [], "open_to_everyone": True}
    assert any_client.patch(url, json=opened, headers=headers).status_code == 200
    assert (
        any_client.patch(url, json={"open_to_everyone": False}, headers=headers).status_code == 422
    )
    assert any_client.get(url, headers=headers).json()["open_to_everyone"] is True


def test_a_meeting_saved_before_the_rule_still_takes_other_changes(any_client: TestClient) -> None:
    headers = admin_headers(any_client)
    meeting_id = str(_meeting(any_client, headers)["id"])
    with backend_of(any_client).sessions() as session:  # as an earlier release let it be
        saved = session.get(Meeting, uuid.UUID(meeting_id))
        assert saved is not None
        saved.expected_ministries = []
        session.commit()
    url = f"/api/meetings/{meeting_id}"
    renamed = any_client.patch(url, json={"title": "Renamed"}, headers=headers)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["title"] == "Renamed"
    still = any_client.patch(url, json={"open_to_everyone": False}, headers=headers)
    assert still.status_code == 422
