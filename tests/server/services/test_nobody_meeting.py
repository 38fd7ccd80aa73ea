"""A meeting that expects nobody takes no face check-in on the server.

Such a meeting lists no ministry and no member and is not open to everyone (the API no
longer makes one; earlier releases saved them): its kiosks send faces to staff. The
server held that line nowhere: a member's selfie on the phone page was approved, and so
was a face that a kiosk of the previous release (which reads the empty list as
everyone) recognised and synced. Now the phone hears that the member is not on the
meeting's list and whom to ask; a synced check-in is kept for review, saying why, and
counts only once a reviewer approves it. Staff still check people in by hand.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from kiosk.inference.engine import FaceEngine
from kiosk.inference.packs import resolve_pack
from kiosk.inference.sessions import ThreadSettings
from server.backend.core.config import Settings
from server.backend.errors import CheckinRefusedError
from server.backend.models import AttendanceRecord, Meeting
from server.backend.services import attendance
from server.backend.services.checkin_upload import NOBODY_EXPECTED
from server.backend.services.phone_checkin import NOT_LISTED
from tests.server.attendance_utils import make_meeting, make_member
from tests.server.conftest import ClientFactory
from tests.server.kiosk_utils import pair_kiosk
from tests.server.services.test_checkin_upload import upload
from tests.server.services.test_kiosk_face_evidence import crop_of
from tests.server.services.test_phone_checkin import Venue, enrol, photo
from tests.server.utils import admin_headers, backend_of, session_of


def expecting_nobody(client: TestClient, admin: dict[str, str]) -> dict[str, Any]:
    """A started meeting as an earlier release could save it: listing nobody, not open."""
    meeting = make_meeting(client, admin, expected_ministries=["Choir"], liveness="never")
    with backend_of(client).sessions() as session:
        saved = session.get(Meeting, uuid.UUID(meeting["id"]))
        assert saved is not None
        saved.expected_ministries = []
        session.commit()
        assert attendance.expects_nobody(saved)
    return meeting


def records_of(client: TestClient, meeting: dict[str, Any]) -> int:
    query = select(func.count()).select_from(AttendanceRecord)
    with session_of(client) as session:
        return int(session.scalar(query.filter_by(meeting_id=uuid.UUID(meeting["id"]))) or 0)


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    pack = resolve_pack("vectron", cache_dir=Path("/nonexistent-cache"))
    return FaceEngine.load(pack, ThreadSettings(intra_op_threads=1))


@pytest.fixture
def venue(make_client: ClientFactory, pg_settings: Settings, shared_face_service: str) -> Venue:
    """Obama, enrolled from obama.jpg, and a running meeting that expects nobody."""
    update = {"face_model": "vectron", "face_service_url": shared_face_service}
    client = make_client(pg_settings.model_copy(update=update))
    headers = admin_headers(client)
    obama = make_member(client, headers, "Barack Obama", email="barack@example.org")
    enrol(client, headers, obama, shared_face_service)
    return Venue(client, headers, expecting_nobody(client, headers), obama)


@pytest.mark.model
@pytest.mark.network
def test_a_members_own_face_on_the_phone_is_told_to_ask_the_admin(venue: Venue) -> None:
    answer = venue.check_in(photo("obama2"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"] == "not_recognised"
    assert answer.json()["message"] == NOT_LISTED  # not on the list, and whom to ask
    assert answer.json()["tries_left"] == 0  # another try cannot help
    assert records_of(venue.client, venue.meeting) == 0
    attempts = venue.client.get("/api/attempts", headers=venue.headers).json()["data"]
    assert [(a["member_id"], a["reason"]) for a in attempts] == [
        (venue.obama["id"], "not expected here")
    ]
    # Staff check people in by hand there, as the kiosk tells them to.
    manual = venue.client.post(
        f"/api/attendance/meetings/{venue.meeting['id']}/manual",
        json={"member_id": venue.obama["id"], "note": "camera check-in is off"},
        headers=venue.headers,
    )
    assert manual.status_code == 201, manual.text
    assert manual.json()["record"]["status"] == "approved"


@pytest.mark.model
@pytest.mark.network
def test_an_earlier_kiosks_check_in_there_is_kept_for_review_once_and_not_counted(
    venue: Venue, engine: FaceEngine
) -> None:
    client, admin = venue.client, venue.headers
    kiosk = pair_kiosk(client, admin)
    everyone = make_meeting(client, admin, liveness="never")
    live, _vector = crop_of(engine, "obama2")

    def item(meeting: dict[str, Any]) -> dict[str, Any]:
        return {
            "key": uuid.uuid4().hex,
            "meeting_id": meeting["id"],
            "member_id": venue.obama["id"],
            "method": "face",
            "similarity": 0.9,
            "margin": 0.5,
            "device_time": datetime.now(UTC).isoformat(),
            "model_id": engine.model_id,
            "face": live,
        }

    batch = [item(venue.meeting), item(everyone)]
    first = upload(client, kiosk, batch)
    # The same face counts where the meeting expects everyone: the crop is good.
    assert (first[1]["result"], first[1]["status"]) == ("recorded", "approved"), first
    kept = first[0]
    assert (kept["result"], kept["status"]) == ("recorded", "pending_review"), first
    assert kept["reason"] == NOBODY_EXPECTED
    # Sent again (a lost answer): the same results, nothing stored twice.
    assert upload(client, kiosk, batch) == first
    assert records_of(client, venue.meeting) == 1
    # Where staff review check-ins, saying why it waits.
    queue = client.get("/api/reviews", params={"meeting_id": venue.meeting["id"]}, headers=admin)
    assert [(r["id"], r["review_reason"]) for r in queue.json()["data"]] == [
        (kept["record_id"], NOBODY_EXPECTED)
    ]
    report = client.get(f"/api/reports/meetings/{venue.meeting['id']}", headers=admin).json()
    assert (report["present"], report["pending_review"]) == (0, 1)


def test_no_face_check_in_is_approved_there_by_any_path(client: TestClient) -> None:
    admin = admin_headers(client)
    ama = make_member(client, admin, "Ama Mensah")
    meeting = expecting_nobody(client, admin)
    with backend_of(client).sessions() as session:
        saved = session.get(Meeting, uuid.UUID(meeting["id"]))
        assert saved is not None
        for method in sorted(attendance.FACE_METHODS):
            with pytest.raises(CheckinRefusedError, match="expects nobody by face"):
                attendance.record_checkin(
                    session,
                    meeting=saved,
                    member_id=uuid.UUID(ama["id"]),
                    method=method,
                    status="approved",
                    similarity=0.9,
                )
        manual = attendance.record_checkin(
            session,
            meeting=saved,
            member_id=uuid.UUID(ama["id"]),
            method="manual",
            status="approved",
        )
        session.commit()
    assert manual.result == "recorded"
    assert records_of(client, meeting) == 1


def test_its_reports_expect_nobody_and_count_only_who_came(client: TestClient) -> None:
    """Before, reports counted every active member as expected there, and so absent."""
    admin = admin_headers(client)
    ama = make_member(client, admin, "Ama Mensah")
    kofi = make_member(client, admin, "Kofi Osei")
    meeting = expecting_nobody(client, admin)
    url = f"/api/reports/meetings/{meeting['id']}"
    report = client.get(url, headers=admin).json()
    assert (report["expected"], report["absent"]) == (0, 0)
    manual = client.post(
        f"/api/attendance/meetings/{meeting['id']}/manual",
        json={"member_id": ama["id"]},
        headers=admin,
    )
    assert manual.status_code == 201, manual.text
    report = client.get(url, headers=admin).json()
    assert (report["expected"], report["present"], report["absent"]) == (1, 1, 0)
    trend = client.get("/api/reports/trends", params={"period": "month"}, headers=admin).json()
    assert [(p["expected"], p["present"]) for p in trend["points"]] == [(1, 1)]

    def history(member: dict[str, Any]) -> list[str]:
        answer = client.get(f"/api/reports/members/{member['id']}", headers=admin).json()
        return [line["meeting_id"] for line in answer["history"]]

    assert (history(ama), history(kofi)) == ([meeting["id"]], [])
