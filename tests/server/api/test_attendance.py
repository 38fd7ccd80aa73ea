"""Manual check-in, the attendance list and deletion: approved at once, never twice,
audited, announced live, and refused for closed meetings and unexpected people."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from fastapi.testclient import TestClient

from server.backend.services.live_events import meeting_channel
from tests.server.attendance_utils import make_meeting, make_member
from tests.server.utils import admin_headers, backend_of


def _manual(
    client: TestClient, meeting_id: str, member_id: str, headers: dict[str, str]
) -> httpx.Response:
    return client.post(
        f"/api/attendance/meetings/{meeting_id}/manual",
        json={"member_id": member_id, "note": "no phone with her"},
        headers=headers,
    )


def test_manual_checkin_is_approved_once_and_audited(any_client: TestClient) -> None:
    client, headers = any_client, admin_headers(any_client)
    meeting, member = make_meeting(client, headers), make_member(client, headers)
    first = _manual(client, meeting["id"], member["id"], headers)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["result"] == "recorded"
    record = body["record"]
    assert (record["method"], record["status"], record["late"]) == ("manual", "approved", False)
    assert record["created_by_id"] is not None and record["similarity"] is None

    again = _manual(client, meeting["id"], member["id"], headers)
    assert again.status_code == 200
    assert again.json()["result"] == "already_checked_in"
    assert again.json()["record"]["id"] == record["id"]

    listed = client.get("/api/attendance", params={"meeting_id": meeting["id"]}, headers=headers)
    assert listed.json()["count"] == 1
    assert listed.json()["data"][0]["member_name"] == "Ama Mensah"
    audit = client.get("/api/audit", params={"action": "attendance.manual"}, headers=headers)
    [entry] = audit.json()["data"]
    assert entry["target_id"] == record["id"]
    assert entry["details"]["note"] == "no phone with her"


def test_a_checkin_after_the_late_time_is_flagged_late(client: TestClient) -> None:
    headers = admin_headers(client)
    late_after = datetime.now(UTC) - timedelta(minutes=1)
    meeting = make_meeting(client, headers, late_after=late_after.isoformat())
    member = make_member(client, headers)
    record = _manual(client, meeting["id"], member["id"], headers).json()["record"]
    assert record["late"] is True


def test_closed_meetings_and_unexpected_members_are_refused(client: TestClient) -> None:
    headers = admin_headers(client)
    member = make_member(client, headers, ministry="Ushers")
    scheduled = make_meeting(client, headers, start=False)
    refused = _manual(client, scheduled["id"], member["id"], headers)
    assert refused.status_code == 409
    assert "scheduled" in refused.json()["detail"]

    choir_only = make_meeting(client, headers, expected_ministries=["Choir"])
    stranger = _manual(client, choir_only["id"], member["id"], headers)
    assert stranger.status_code == 409
    assert "not expected" in stranger.json()["detail"]
    missing = _manual(client, str(uuid.uuid4()), member["id"], headers)
    assert missing.status_code == 404
    assert client.get("/api/attendance", headers=headers).json()["count"] == 0


def test_deleting_a_record_is_audited_and_announced(client: TestClient) -> None:
    headers = admin_headers(client)
    meeting, member = make_meeting(client, headers), make_member(client, headers)
    subscription = backend_of(client).store.subscribe(meeting_channel(uuid.UUID(meeting["id"])))
    try:
        record = _manual(client, meeting["id"], member["id"], headers).json()["record"]
        deleted = client.delete(f"/api/attendance/{record['id']}", headers=headers)
        assert deleted.status_code == 204
        events = [json.loads(subscription.get(5) or "null") for _ in range(2)]
    finally:
        subscription.close()
    assert [(e["type"], e["record"]["id"]) for e in events] == [
        ("attendance.recorded", record["id"]),
        ("attendance.deleted", record["id"]),
    ]
    assert client.get("/api/attendance", headers=headers).json()["count"] == 0
    audit = client.get("/api/audit", params={"action": "attendance.delete"}, headers=headers)
    assert audit.json()["data"][0]["details"]["method"] == "manual"
    assert client.delete(f"/api/attendance/{record['id']}", headers=headers).status_code == 404
    # Deleted, the member can be checked in again.
    assert _manual(client, meeting["id"], member["id"], headers).status_code == 201


def test_attendance_needs_a_signed_in_admin(client: TestClient) -> None:
    headers = admin_headers(client)
    meeting, member = make_meeting(client, headers), make_member(client, headers)
    assert _manual(client, meeting["id"], member["id"], {}).status_code == 401
    assert client.get("/api/attendance").status_code == 401
    assert client.delete(f"/api/attendance/{uuid.uuid4()}").status_code == 401
    assert client.get("/api/attendance", headers=headers).json()["count"] == 0
