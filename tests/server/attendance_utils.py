"""Factories for the attendance tests: members, running meetings, stored check-ins."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from server.backend.models import AttendanceRecord, Meeting
from server.backend.services import attendance
from tests.server.utils import backend_of


def make_member(
    client: TestClient,
    headers: dict[str, str],
    name: str = "Ama Mensah",
    ministry: str = "Choir",
    **extra: Any,
) -> dict[str, Any]:
    body = {"full_name": name, "ministry": ministry, **extra}
    response = client.post("/api/members", json=body, headers=headers)
    assert response.status_code == 201, response.text
    member: dict[str, Any] = response.json()
    return member


def make_meeting(
    client: TestClient, headers: dict[str, str], *, start: bool = True, **fields: Any
) -> dict[str, Any]:
    """A two-hour meeting that began five minutes ago; started unless told otherwise.

    Listing nobody, it is opened to everyone, as the API asks an admin to say.
    """
    begins = datetime.now(UTC) - timedelta(minutes=5)
    lists = fields.get("expected_ministries") or fields.get("expected_member_ids")
    fields.setdefault("open_to_everyone", not lists)
    body = {
        "title": "Sonta leaders' meeting",
        "starts_at": begins.isoformat(),
        "ends_at": (begins + timedelta(hours=2)).isoformat(),
        **fields,
    }
    response = client.post("/api/meetings", json=body, headers=headers)
    assert response.status_code == 201, response.text
    meeting: dict[str, Any] = response.json()
    if start:
        started = client.post(f"/api/meetings/{meeting['id']}/start", headers=headers)
        assert started.status_code == 200, started.text
        meeting = started.json()
    return meeting


def store_checkin(
    client: TestClient,
    meeting_id: str,
    member_id: str,
    *,
    status: str = "pending_review",
    similarity: float = 0.38,
) -> uuid.UUID:
    """A kiosk-style face check-in stored through the attendance service."""
    with backend_of(client).sessions() as session:
        meeting = session.get(Meeting, uuid.UUID(meeting_id))
        assert meeting is not None
        outcome = attendance.record_checkin(
            session,
            meeting=meeting,
            member_id=uuid.UUID(member_id),
            method="face",
            status=status,
            similarity=similarity,
            margin=0.2,
        )
        session.commit()
        return outcome.record.id


def load_record(client: TestClient, record_id: uuid.UUID) -> AttendanceRecord | None:
    with backend_of(client).sessions() as session:
        return session.get(AttendanceRecord, record_id)
