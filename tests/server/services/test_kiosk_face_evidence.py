"""A kiosk credential alone cannot mark anyone present (issue 25, failure 1).

The attacks run as an outsider with a stolen kiosk credential would: real backend and
face-service processes, real HTTP. The kiosk downloads every template, so a template
plus noise sent as a probe once came back `approved`. Now the server embeds the aligned
face crop the kiosk sends, through the face-service, and decides on its own similarity;
check-ins dated outside the meeting are refused.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from sqlalchemy import Engine, text

from kiosk.inference.engine import FaceEngine
from kiosk.inference.images import read_image_file
from kiosk.inference.packs import resolve_pack
from kiosk.inference.quality import Purpose
from kiosk.inference.sessions import ThreadSettings
from server.backend.models import Base
from tests.server.live import backend_process
from tests.server.utils import admin_in_database, bearer, password_login

pytestmark = [pytest.mark.network]

FACES = Path(__file__).resolve().parents[2] / "data" / "faces"


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    pack = resolve_pack("vectron", cache_dir=Path("/nonexistent-cache"))
    return FaceEngine.load(pack, ThreadSettings(intra_op_threads=1))


def crop_of(engine: FaceEngine, photo: str) -> tuple[str, np.ndarray]:
    """The photo's aligned face as a kiosk sends it (base64 JPEG), and its embedding."""
    pixels = read_image_file(FACES / f"{photo}.jpg").pixels
    face = engine.embed_single(pixels, purpose=Purpose.ENROLMENT)
    assert face.embedding is not None
    crop = engine.recognizer.align(pixels, face.face)
    ok, jpeg = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return base64.b64encode(jpeg.tobytes()).decode(), face.embedding.vector


def noisy_probe(template: np.ndarray, similarity: float) -> str:
    """The attack's probe: the member's own template plus orthogonal noise."""
    noise = np.random.default_rng(5).normal(size=template.size)
    noise -= template * float(noise @ template)
    noise /= np.linalg.norm(noise)
    vector = similarity * template + np.sqrt(1 - similarity**2) * noise
    return base64.b64encode(vector.astype("<f4").tobytes()).decode()


@dataclass
class Venue:
    api: httpx.Client
    admin: dict[str, str]
    kiosk: dict[str, str]
    model_id: str
    engine: FaceEngine
    # The member every test claims to be, enrolled from one photo.
    ama: str = ""
    template: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def member(self, name: str, photo: str) -> tuple[str, np.ndarray]:
        made = self.api.post(
            "/api/members", json={"full_name": name, "ministry": "Choir"}, headers=self.admin
        )
        assert made.status_code == 201, made.text
        member_id = str(made.json()["id"])
        consent = self.api.put(
            f"/api/members/{member_id}/consent", json={"given": True}, headers=self.admin
        )
        assert consent.status_code == 200, consent.text
        _crop, vector = crop_of(self.engine, photo)
        enrolled = self.api.post(
            f"/api/members/{member_id}/templates",
            json={"embedding": [float(x) for x in vector], "model_id": self.model_id},
            headers=self.admin,
        )
        assert enrolled.status_code == 201, enrolled.text
        return member_id, vector

    def meeting(self, *, end: bool = False) -> str:
        begins = datetime.now(UTC) - timedelta(minutes=10)
        body = {
            "title": "Sonta Heads meeting",
            "starts_at": begins.isoformat(),
            "ends_at": (begins + timedelta(hours=2)).isoformat(),
            "open_to_everyone": True,
        }
        made = self.api.post("/api/meetings", json=body, headers=self.admin)
        assert made.status_code == 201, made.text
        meeting_id = str(made.json()["id"])
        assert self.api.post(f"/api/meetings/{meeting_id}/start", headers=self.admin).is_success
        if end:
            assert self.api.post(f"/api/meetings/{meeting_id}/end", headers=self.admin).is_success
        return meeting_id

    def upload(self, *items: dict[str, Any], **batch: Any) -> list[dict[str, Any]]:
        response = self.api.post(
            "/api/kiosk/checkins", json={"items": list(items), **batch}, headers=self.kiosk
        )
        assert response.status_code == 200, response.text
        results: list[dict[str, Any]] = response.json()["results"]
        return results

    def item(self, meeting: str, member: str, **fields: Any) -> dict[str, Any]:
        return {
            "key": uuid.uuid4().hex,
            "meeting_id": meeting,
            "member_id": member,
            "method": "face",
            "similarity": 0.9,
            "margin": 0.5,
            "device_time": datetime.now(UTC).isoformat(),
            "model_id": self.model_id,
            **fields,
        }


@pytest.fixture(scope="module")
def venue(
    server_env: dict[str, str],
    pg_engine: Engine,
    shared_face_service: str,
    engine: FaceEngine,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Venue]:
    """One backend process for the module; each test makes its own meeting."""
    tmp_path = tmp_path_factory.mktemp("evidence")
    with pg_engine.begin() as connection:  # no face enrolled by an earlier module
        names = ", ".join(table.name for table in Base.metadata.sorted_tables)
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    env = {
        **server_env,
        "FACE_SERVICE_URL": shared_face_service,
        "FACE_MODEL": "vectron",
        "HOME": str(tmp_path),
    }
    email = admin_in_database(env, "evidence")
    with (
        backend_process(env, tmp_path / "backend.log") as url,
        httpx.Client(base_url=url, timeout=60) as api,
    ):
        admin = bearer(password_login(api, email)["access_token"])
        paired = api.post("/api/kiosks", json={"name": "Stolen"}, headers=admin)
        assert paired.status_code == 201, paired.text
        kiosk = bearer(paired.json()["credential"])
        model_id = str(paired.json()["model_id"])
        assert model_id == engine.model_id
        venue = Venue(api, admin, kiosk, model_id, engine)
        venue.ama, venue.template = venue.member(f"Ama {uuid.uuid4().hex[:6]}", "obama")
        yield venue


def test_a_template_plus_noise_as_probe_is_never_approved(venue: Venue) -> None:
    meeting = venue.meeting()
    ama, template = venue.ama, venue.template
    [result] = venue.upload(venue.item(meeting, ama, probe=noisy_probe(template, 0.80)))
    assert result["result"] == "recorded", result
    assert result["status"] == "pending_review", "a probe alone must never approve"


def test_a_stranger_s_face_crop_claiming_a_member_is_refused(venue: Venue) -> None:
    meeting = venue.meeting()
    ama, template = venue.ama, venue.template
    stranger, _vector = crop_of(venue.engine, "biden")
    forged = venue.item(meeting, ama, probe=noisy_probe(template, 0.80), face=stranger)
    [result] = venue.upload(forged)
    assert result["result"] == "refused", result
    assert "not similar enough" in result["reason"]


def test_the_member_s_own_face_crop_is_approved_on_the_server_s_similarity(
    venue: Venue,
) -> None:
    meeting = venue.meeting()
    ama = venue.ama
    live, _vector = crop_of(venue.engine, "obama2")
    [result] = venue.upload(venue.item(meeting, ama, face=live, similarity=0.2))
    assert (result["result"], result["status"]) == ("recorded", "approved"), result


def test_a_crop_that_is_not_an_aligned_face_is_refused_clearly(venue: Venue) -> None:
    meeting = venue.meeting()
    ama = venue.ama
    ok, big = cv2.imencode(".jpg", np.full((300, 300, 3), 120, np.uint8))
    assert ok
    not_image = base64.b64encode(b"not an image at all").decode()
    results = venue.upload(
        venue.item(meeting, ama, face=base64.b64encode(big.tobytes()).decode()),
        venue.item(meeting, ama, face=not_image),
    )
    assert [r["result"] for r in results] == ["refused", "refused"], results
    assert "300x300 pixels; an aligned face crop is 112x112" in results[0]["reason"]
    assert "the face crop cannot be used" in results[1]["reason"]


def test_check_ins_dated_outside_the_meeting_are_refused(venue: Venue) -> None:
    ended = venue.meeting(end=True)
    active = venue.meeting()
    ama = venue.ama
    live, _vector = crop_of(venue.engine, "obama2")
    after_end = datetime.now(UTC) + timedelta(minutes=1)
    before_start = datetime.now(UTC) - timedelta(hours=3)
    # The batch's `sent_at` says the device clock is right, so its dates are taken as made.
    results = venue.upload(
        venue.item(ended, ama, face=live, device_time=after_end.isoformat()),
        venue.item(active, ama, face=live, device_time=before_start.isoformat()),
        sent_at=datetime.now(UTC).isoformat(),
    )
    assert [r["result"] for r in results] == ["refused", "refused"], results
    assert "dated before the meeting started" in results[1]["reason"]


def test_a_check_in_arriving_long_after_the_meeting_ended_waits_for_an_admin(
    venue: Venue, pg_engine: Engine
) -> None:
    """Backdated into a meeting that had ended: its date is only the kiosk's word."""
    meeting = venue.meeting(end=True)
    with pg_engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE meetings SET started_at = now() - interval '3 hours', "
                "ended_at = now() - interval '1 hour' WHERE id = :id"
            ),
            {"id": meeting},
        )
    live, _vector = crop_of(venue.engine, "obama2")
    during = datetime.now(UTC) - timedelta(hours=2)
    [result] = venue.upload(
        venue.item(meeting, venue.ama, face=live, device_time=during.isoformat()),
        sent_at=datetime.now(UTC).isoformat(),
    )
    assert (result["result"], result["status"]) == ("recorded", "pending_review"), result
