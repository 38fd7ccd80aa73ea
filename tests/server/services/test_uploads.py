"""Every upload path refuses a costly image from its header (issue 13, defect 1).

The phone selfie is covered with a real backend process in `test_upload_memory`; here
the enrolment photo, the phone's head-turn frames, the kiosk's evidence crop, and the
bounded decode slots.
"""

from __future__ import annotations

import io
import threading
import tracemalloc

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from server.backend.errors import BadRequestError, ServiceUnavailableError
from server.backend.services import evidence, phone_guard, uploads
from tests.server.attendance_utils import make_meeting, make_member
from tests.server.utils import admin_headers, backend_of


def tiny_png(side: int) -> bytes:
    """A few KB of 1-bit PNG that declares a `side` x `side` canvas."""
    out = io.BytesIO()
    Image.new("1", (side, side)).save(out, format="PNG", optimize=True)
    return out.getvalue()


def test_an_evidence_crop_declaring_a_huge_canvas_is_refused_without_decoding() -> None:
    data = tiny_png(6000)
    assert len(data) < evidence.MAX_EVIDENCE_BYTES
    tracemalloc.start()
    with pytest.raises(BadRequestError, match="pixels"):
        evidence.check_crop(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 5_000_000  # decoding it would be 108 MB of RGB


def test_an_enrolment_photo_declaring_a_huge_canvas_never_reaches_the_face_service(
    client: TestClient,
) -> None:
    # Nothing listens at the test settings' face-service: reaching it would be a 503.
    admin = admin_headers(client)
    member = make_member(client, admin, "Ama Mensah")
    url = f"/api/members/{member['id']}/consent"
    assert client.put(url, json={"given": True}, headers=admin).status_code == 200
    answer = client.post(
        f"/api/members/{member['id']}/templates/photo",
        files={"photo": ("big.png", tiny_png(6300), "image/png")},
        headers=admin,
    )
    assert answer.status_code == 422, answer.text
    assert "6300x6300 pixels" in answer.json()["detail"]


def test_decodes_wait_for_a_free_slot_and_give_up_with_a_503() -> None:
    slots = uploads.DecodeSlots(1, wait_seconds=0.2)
    photo = io.BytesIO()
    Image.new("RGB", (64, 64), "gray").save(photo, format="JPEG")
    assert slots.decode(photo.getvalue(), uploads.SELFIE).pixels.shape == (64, 64, 3)
    held = threading.Event()
    release = threading.Event()

    def occupy() -> None:
        with slots.held():
            held.set()
            release.wait(5)

    worker = threading.Thread(target=occupy)
    worker.start()
    try:
        assert held.wait(5)
        with pytest.raises(ServiceUnavailableError, match="busy"):
            slots.decode(photo.getvalue(), uploads.SELFIE)
    finally:
        release.set()
        worker.join()
    assert slots.decode(photo.getvalue(), uploads.SELFIE).pixels.shape == (64, 64, 3)


def test_head_turn_frames_declaring_huge_canvases_never_reach_the_face_service(
    client: TestClient,
) -> None:
    # Ten 5 KB frames declaring 6300x6300 each kept the face-service busy for a minute.
    # Nothing listens at the test settings' face-service: reaching it would be a 503.
    admin = admin_headers(client)
    member = make_member(client, admin, "Ama Mensah")
    meeting = make_meeting(client, admin, liveness="always")
    token = client.get(f"/api/meetings/{meeting['id']}/qr", headers=admin).json()["token"]
    ticket = client.post("/api/qr/scan", json={"token": token}).json()["ticket"]
    selfie = io.BytesIO()
    Image.new("RGB", (640, 480), "gray").save(selfie, format="JPEG")
    frames = [("turn", (f"t{i}.png", tiny_png(6300), "image/png")) for i in range(10)]
    answer = client.post(
        "/api/checkin/phone",
        data={"ticket": ticket, "member_id": member["id"]},
        files=[("selfie", ("selfie.jpg", selfie.getvalue(), "image/jpeg")), *frames],
    )
    assert answer.status_code == 422, answer.text
    assert "head-turn frame cannot be used" in answer.json()["detail"]
    assert "6300x6300 pixels" in answer.json()["detail"]
    assert backend_of(client).store.get(phone_guard._tries_key(ticket)) is None  # no try used
