"""The plain-http phone path: a selfie video from the phone's camera app, through the
API with the real face-service. Clips as phones make them (H.264 MP4, H.264 and HEVC
MOV, VP9 WebM) are encoded here from real photos: turning as asked checks in; a clip of
a still photo, a 4K clip, or something that is not a video does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from server.backend.core.config import Settings
from server.backend.services import phone_guard
from tests.server.conftest import ClientFactory
from tests.server.services.test_phone_checkin import face_service_url  # noqa: F401  (fixture)
from tests.server.services.test_phone_liveness import TURNED, Phone, asked, frame
from tests.server.utils import backend_of
from tests.utils.clips import FORMATS, encode
from tests.utils.turns import handheld

pytestmark = [pytest.mark.model, pytest.mark.network]


@pytest.fixture
def phone(
    make_client: ClientFactory,
    pg_settings: Settings,
    face_service_url: str,  # noqa: F811  (the imported fixture)
) -> Phone:
    return Phone(make_client, pg_settings, face_service_url)


def turning(moves: list[str]) -> list[np.ndarray]:
    """About three seconds at 10 fps: facing the camera, then each move and back, the
    phone held in the hand."""
    still = frame("obama")
    frames = [still] * 10
    for move in moves:
        frames += [TURNED[move]] * 8 + [still] * 8
    return [handheld(f, seed) for seed, f in enumerate(frames)]


def send(phone: Phone, ticket: str, clip: bytes, name: str = "clip.mp4") -> Any:
    data = {"ticket": ticket, "member_code": phone.obama["member_code"]}
    files = {"video": (name, clip, "video/mp4")}
    return phone.client.post("/api/checkin/phone", data=data, files=files)


@pytest.mark.parametrize("kind", list(FORMATS))
def test_a_clip_turning_as_asked_checks_in(phone: Phone, tmp_path: Path, kind: str) -> None:
    scan = phone.scan(phone.meeting("always"))
    clip = encode(turning(scan["moves"]), tmp_path / "clip", kind)
    answer = send(phone, scan["ticket"], clip.read_bytes(), clip.name)
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "approved"


def test_a_clip_of_a_still_photo_or_turning_the_other_way_is_refused(
    phone: Phone, tmp_path: Path
) -> None:
    scan = phone.scan(phone.meeting("always"))
    still = encode([frame("obama")] * 30, tmp_path / "still")
    answer = send(phone, scan["ticket"], still.read_bytes()).json()
    assert answer["result"] == "not_recognised"
    assert answer["message"] == (
        "We could not see your head move as asked. Record the video again: look at the "
        f"camera, then {asked(scan)}, slowly, and back."
    )
    other = ["right" if m == "left" else "left" for m in scan["moves"]]
    wrong = encode(turning(other), tmp_path / "wrong")
    answer = send(phone, scan["ticket"], wrong.read_bytes()).json()
    assert answer["result"] == "not_recognised" and answer["tries_left"] == 1


def test_a_4k_clip_is_refused_from_its_header_and_uses_no_try(phone: Phone, tmp_path: Path) -> None:
    scan = phone.scan(phone.meeting("always"))
    big = np.full((2160, 3840, 3), 110, np.uint8)
    clip = encode([big] * 2, tmp_path / "4k")
    answer = send(phone, scan["ticket"], clip.read_bytes())
    assert answer.status_code == 422, answer.text
    assert "3840x2160 pixels; record at 1080p or lower" in answer.json()["detail"]
    assert backend_of(phone.client).store.get(phone_guard._tries_key(scan["ticket"])) is None


@pytest.mark.parametrize(
    ("clip", "status", "words"),
    [
        (b"", 422, "empty"),
        (Path(__file__).read_bytes(), 422, "not a video we read"),
        (b"\0\0\0\x18ftypmp42" + b"\0" * 4000, 422, "could not be opened"),
        (b"\0\0\0\x18ftypmp42" + b"\0" * (17 * 1024 * 1024), 413, "larger than"),
    ],
    ids=["empty", "not-a-video", "broken", "too-large"],
)
def test_bad_clips_get_a_clear_4xx_and_use_nothing(
    phone: Phone, clip: bytes, status: int, words: str
) -> None:
    scan = phone.scan(phone.meeting("always"))
    answer = send(phone, scan["ticket"], clip)
    assert answer.status_code == status, answer.text
    assert words in answer.text
    assert backend_of(phone.client).store.get(phone_guard._tries_key(scan["ticket"])) is None


def test_a_selfie_and_a_video_together_or_neither_are_refused(phone: Phone) -> None:
    scan = phone.scan(phone.meeting("always"))
    data = {"ticket": scan["ticket"], "member_code": phone.obama["member_code"]}
    neither = phone.client.post("/api/checkin/phone", data=data, files={"x": ("x", b"x")})
    assert neither.status_code == 422
    assert "Send a selfie photo or a selfie video" in neither.json()["detail"]


def test_a_clip_larger_than_a_photo_is_taken_on_the_phone_route_alone(
    phone: Phone, tmp_path: Path
) -> None:
    """A phone's few seconds of 1080p are several MB; every other body stays under 2 MiB."""
    scan = phone.scan(phone.meeting("always"))
    clip = encode(turning(scan["moves"]), tmp_path / "clip").read_bytes()
    padding = 4 * 1024 * 1024
    padded = clip + (padding + 8).to_bytes(4, "big") + b"free" + b"\0" * padding  # an MP4 box
    answer = send(phone, scan["ticket"], padded)
    assert answer.status_code == 201, answer.text
    elsewhere = phone.client.post(
        "/api/qr/scan", content=b" " * len(padded), headers={"content-type": "application/json"}
    )
    assert elsewhere.status_code == 413
