"""The review queue: pending check-ins listed, approved or rejected once, audited and
announced; evidence crops sealed to their record, shown to admins, erased on review or
after the retention period."""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from kiosk.inference.images import decode_image
from server.backend.core.config import Settings
from server.backend.errors import BadRequestError
from server.backend.models import AttendanceRecord, utcnow
from server.backend.services import evidence
from server.backend.services.live_events import meeting_channel
from sonta.cli import main
from tests.server.attendance_utils import load_record, make_meeting, make_member, store_checkin
from tests.server.conftest import ClientFactory
from tests.server.utils import admin_headers, backend_of

FACES = Path(__file__).parents[2] / "data" / "faces"


def _crop() -> bytes:
    photo = (FACES / "obama.jpg").read_bytes()
    return evidence.face_crop(decode_image(photo), (300.0, 100.0, 500.0, 350.0))


def _attach(client: TestClient, record_id: uuid.UUID, jpeg: bytes) -> None:
    backend = backend_of(client)
    with backend.sessions() as session:
        record = session.get(AttendanceRecord, record_id)
        assert record is not None
        evidence.attach(evidence.EvidenceCipher.from_settings(backend.settings), record, jpeg)
        session.commit()


@pytest.fixture
def pending(client: TestClient) -> tuple[dict[str, str], str, str, uuid.UUID]:
    """Headers, meeting id, member id, and a pending check-in carrying an evidence crop."""
    headers = admin_headers(client)
    meeting, member = make_meeting(client, headers), make_member(client, headers)
    record_id = store_checkin(client, meeting["id"], member["id"])
    _attach(client, record_id, _crop())
    return headers, meeting["id"], member["id"], record_id


def test_the_queue_lists_pending_checkins_with_their_evidence(
    client: TestClient, pending: tuple[dict[str, str], str, str, uuid.UUID]
) -> None:
    headers, meeting_id, _member_id, record_id = pending
    queue = client.get("/api/reviews", params={"meeting_id": meeting_id}, headers=headers).json()
    [item] = queue["data"]
    assert (item["id"], item["status"], item["has_evidence"]) == (
        str(record_id),
        "pending_review",
        True,
    )
    assert item["similarity"] == pytest.approx(0.38)
    image = client.get(f"/api/reviews/{record_id}/evidence", headers=headers)
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.content == _crop()
    shown = Image.open(io.BytesIO(image.content))
    assert max(shown.size) <= evidence.EVIDENCE_SIDE
    assert client.get(f"/api/reviews/{record_id}/evidence").status_code == 401
    assert client.get("/api/reviews").status_code == 401


def test_approving_checks_the_member_in_and_erases_the_evidence(
    client: TestClient, pending: tuple[dict[str, str], str, str, uuid.UUID]
) -> None:
    headers, meeting_id, _member_id, record_id = pending
    subscription = backend_of(client).store.subscribe(meeting_channel(uuid.UUID(meeting_id)))
    try:
        approved = client.post(
            f"/api/reviews/{record_id}/approve", json={"note": "it is her"}, headers=headers
        )
        event = json.loads(subscription.get(5) or "null")
    finally:
        subscription.close()
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["reviewed_by_id"]
    assert approved.json()["has_evidence"] is False
    assert (event["type"], event["record"]["status"]) == ("attendance.reviewed", "approved")
    stored = load_record(client, record_id)
    assert stored is not None and stored.evidence_ciphertext is None
    assert client.get(f"/api/reviews/{record_id}/evidence", headers=headers).status_code == 404
    assert client.get("/api/reviews", headers=headers).json()["count"] == 0
    twice = client.post(f"/api/reviews/{record_id}/reject", headers=headers)
    assert twice.status_code == 409 and "approved" in twice.json()["detail"]
    audit = client.get("/api/audit", params={"action": "attendance.approve"}, headers=headers)
    assert audit.json()["data"][0]["details"]["note"] == "it is her"


def test_rejecting_keeps_the_member_absent(
    client: TestClient, pending: tuple[dict[str, str], str, str, uuid.UUID]
) -> None:
    headers, meeting_id, _member_id, record_id = pending
    rejected = client.post(f"/api/reviews/{record_id}/reject", headers=headers)
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    approved = client.get(
        "/api/attendance", params={"meeting_id": meeting_id, "status": "approved"}, headers=headers
    )
    assert approved.json()["count"] == 0
    assert client.get(f"/api/reviews/{record_id}/evidence", headers=headers).status_code == 404
    assert (
        client.get("/api/audit", params={"action": "attendance.reject"}, headers=headers).json()[
            "count"
        ]
        == 1
    )


def test_a_second_approval_for_a_member_already_in_is_refused(
    client: TestClient, pending: tuple[dict[str, str], str, str, uuid.UUID]
) -> None:
    headers, meeting_id, member_id, record_id = pending
    manual = client.post(
        f"/api/attendance/meetings/{meeting_id}/manual",
        json={"member_id": member_id},
        headers=headers,
    )
    assert manual.status_code == 201
    refused = client.post(f"/api/reviews/{record_id}/approve", headers=headers)
    assert refused.status_code == 409 and "already checked in" in refused.json()["detail"]
    stored = load_record(client, record_id)
    assert stored is not None and stored.status == "pending_review"
    assert client.post(f"/api/reviews/{uuid.uuid4()}/approve", headers=headers).status_code == 404


def test_expired_evidence_is_purged_when_the_queue_is_read(
    client: TestClient, pending: tuple[dict[str, str], str, str, uuid.UUID]
) -> None:
    headers, _meeting_id, _member_id, record_id = pending
    _expire_evidence(client, record_id)
    [item] = client.get("/api/reviews", headers=headers).json()["data"]
    assert item["has_evidence"] is False
    stored = load_record(client, record_id)
    assert (
        stored is not None and stored.evidence_nonce is None and stored.status == "pending_review"
    )


def test_evidence_is_sealed_to_its_record(client: TestClient) -> None:
    backend = backend_of(client)
    cipher = evidence.EvidenceCipher.from_settings(backend.settings)
    record_id = uuid.uuid4()
    nonce, sealed = cipher.seal(_crop(), record_id=record_id)
    assert _crop() not in sealed
    assert cipher.open(nonce, sealed, record_id=record_id) == _crop()
    assert cipher.open(nonce, sealed, record_id=uuid.uuid4()) is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"plain text", "not an image"),
        (b"\xff\xd8\xff" + b"\x00" * (evidence.MAX_EVIDENCE_BYTES + 1), "larger than"),
    ],
)
def test_only_small_real_images_are_kept_as_evidence(data: bytes, reason: str) -> None:
    with pytest.raises(BadRequestError) as refused:
        evidence.check_crop(data)
    assert reason in refused.value.message
    assert refused.value.status_code == 422


def test_a_full_photo_is_not_kept_as_evidence() -> None:
    big = io.BytesIO()
    Image.new("RGB", (800, 600), "gray").save(big, format="JPEG", quality=10)
    with pytest.raises(BadRequestError, match="too large"):
        evidence.check_crop(big.getvalue())


def _expire_evidence(client: TestClient, record_id: uuid.UUID) -> None:
    with backend_of(client).sessions() as session:
        record = session.get(AttendanceRecord, record_id)
        assert record is not None
        record.evidence_expires_at = utcnow() - timedelta(seconds=1)
        session.commit()


def test_sonta_admin_purge_evidence_erases_expired_crops(
    client: TestClient,
    pending: tuple[dict[str, str], str, str, uuid.UUID],
    server_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    headers, meeting_id, _member_id, record_id = pending
    fresh = store_checkin(client, meeting_id, make_member(client, headers, "Kofi Boateng")["id"])
    _attach(client, fresh, _crop())
    _expire_evidence(client, record_id)
    for name, value in server_env.items():
        monkeypatch.setenv(name, value)
    assert main(["admin", "purge-evidence"]) == 0
    expired, kept = load_record(client, record_id), load_record(client, fresh)
    assert expired is not None and expired.evidence_ciphertext is None
    assert kept is not None and kept.evidence_ciphertext is not None
    audit = client.get("/api/audit", params={"action": "evidence.purge"}, headers=headers)
    assert audit.json()["data"][0]["details"] == {"erased": 1}


def test_a_starting_replica_purges_expired_crops(
    client: TestClient,
    pending: tuple[dict[str, str], str, str, uuid.UUID],
    make_client: ClientFactory,
    pg_settings: Settings,
) -> None:
    _headers, _meeting_id, _member_id, record_id = pending
    _expire_evidence(client, record_id)
    make_client(pg_settings)
    stored = load_record(client, record_id)
    assert stored is not None and stored.evidence_ciphertext is None
    assert stored.status == "pending_review"
