"""Evidence crops from kiosks: attached by idempotency key to the kiosk's own check-in
awaiting review, shown to reviewers, refused for anything else."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from kiosk.inference.images import decode_image
from server.backend.services import evidence
from tests.server.kiosk_utils import (
    PairedKiosk,
    make_meeting,
    make_member,
    model_id,
    pair_kiosk,
    probe_for,
)
from tests.server.utils import admin_headers

CROP = evidence.face_crop(
    decode_image((Path(__file__).parents[2] / "data" / "faces" / "obama2.jpg").read_bytes()),
    (250.0, 80.0, 450.0, 330.0),
)


def _upload(
    client: TestClient, kiosk: PairedKiosk, meeting: str, member: str, similarity: float
) -> dict[str, Any]:
    key = uuid.uuid4().hex
    item = {
        "key": key,
        "meeting_id": meeting,
        "member_id": member,
        "method": "face",
        "similarity": similarity,
        "margin": 0.3,
        "device_time": datetime.now(UTC).isoformat(),
        "model_id": model_id(client),
        "probe": probe_for(client, member, similarity),
    }
    response = client.post("/api/kiosk/checkins", json={"items": [item]}, headers=kiosk.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["results"][0]
    return result


def _put(client: TestClient, kiosk: PairedKiosk, key: str, data: bytes) -> httpx.Response:
    return client.put(
        f"/api/kiosk/checkins/{key}/evidence",
        files={"image": ("face.jpg", data, "image/jpeg")},
        headers=kiosk.headers,
    )


def test_a_kiosk_attaches_evidence_to_its_pending_checkin(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk, meeting = pair_kiosk(client, admin), make_meeting(client, admin)
    pending = _upload(client, kiosk, meeting, make_member(client, admin, "Ama"), 0.36)
    assert pending["status"] == "pending_review"
    assert _put(client, kiosk, pending["key"], b"first try").status_code == 422
    stored = _put(client, kiosk, pending["key"], CROP)
    assert stored.status_code == 200, stored.text
    assert _put(client, kiosk, pending["key"], CROP).status_code == 200  # an outbox retry
    [queued] = client.get("/api/reviews", headers=admin).json()["data"]
    assert queued["has_evidence"] is True
    shown = client.get(f"/api/reviews/{pending['record_id']}/evidence", headers=admin)
    assert shown.content == CROP


def test_evidence_is_refused_for_other_checkins_and_other_kiosks(client: TestClient) -> None:
    admin = admin_headers(client)
    kiosk, other = pair_kiosk(client, admin), pair_kiosk(client, admin, "Side door")
    meeting = make_meeting(client, admin)
    approved = _upload(client, kiosk, meeting, make_member(client, admin, "Kofi"), 0.8)
    reviewed = client.post(f"/api/reviews/{approved['record_id']}/approve", headers=admin)
    assert reviewed.status_code == 200, reviewed.text
    refused = _put(client, kiosk, approved["key"], CROP)
    assert refused.status_code == 409 and "awaiting review" in refused.json()["detail"]
    pending = _upload(client, kiosk, meeting, make_member(client, admin, "Esi"), 0.36)
    assert _put(client, other, pending["key"], CROP).status_code == 404
    assert _put(client, kiosk, "never-sent", CROP).status_code == 404
    anonymous = client.put(
        f"/api/kiosk/checkins/{pending['key']}/evidence",
        files={"image": ("face.jpg", CROP, "image/jpeg")},
    )
    assert anonymous.status_code == 401
    assert (
        client.get(f"/api/reviews/{pending['record_id']}/evidence", headers=admin).status_code
        == 404
    )
