"""The phone's liveness challenge through the API, with real photos and the real
face-service: the ticket carries head moves drawn by the server; timed frames making
those moves pass, a still photo, a swung print, the other way, another face, or one
photo warped at the nose (repeated, or as a ramp out and back) does not."""

from __future__ import annotations

import contextlib
from typing import Any

import cv2
import numpy as np
import pytest

from kiosk.inference.images import read_image_file
from kiosk.protocol.liveness import MIN_TURN as KIOSK_TURN
from kiosk.protocol.liveness import nose_offset
from server.backend.core.config import Settings
from server.backend.services import turn_sequence
from server.backend.services.face_client import FaceServiceClient
from server.backend.services.phone_liveness import said
from server.backend.services.turn_sequence import MIN_TURN, Move
from tests.kiosk.conftest import photo_path
from tests.server.attendance_utils import make_meeting, make_member
from tests.server.conftest import ClientFactory
from tests.server.services.test_phone_checkin import enrol, face_service_url  # noqa: F401  (fixture)
from tests.server.utils import admin_headers
from tests.utils import turns
from tests.utils.y4m import fit, swung

pytestmark = [pytest.mark.model, pytest.mark.network]


def jpeg(pixels: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return data.tobytes()


def frame(name: str, *, mirror: bool = False) -> np.ndarray:
    pixels = read_image_file(photo_path(name)).pixels
    if name == "obama3":  # a full-length photo: its head and shoulders, framed as the others
        pixels = pixels[:1150, 250:1200]
    return fit(np.ascontiguousarray(pixels[:, ::-1]) if mirror else pixels)


# obama2.jpg shows him turned to his own right; mirrored, turned to his own left;
# obama3.jpg shows him with his chin up.
TURNED = {"right": frame("obama2"), "left": frame("obama2", mirror=True), "up": frame("obama3")}
OTHER_WAY = {"left": "right", "right": "left"}


def performing(moves: list[str]) -> list[np.ndarray]:
    """Frames of Obama making `moves` one after the other, each out and back, with a
    camera's noise on every frame (taken STEP_S apart, as the page takes them)."""
    frames = []
    for move in moves:
        frames += [TURNED[move], TURNED[move], frame("obama")]
    return [turns.noisy(f, seed) for seed, f in enumerate(frames, start=1)]


def asked(scan: dict[str, Any]) -> str:
    """The moves as the refusal says them."""
    return said([Move(m) for m in scan["moves"]])


class Phone:
    def __init__(self, make_client: ClientFactory, settings: Settings, url: str) -> None:
        update = {"face_model": "vectron", "face_service_url": url}
        self.client = make_client(settings.model_copy(update=update))
        self.headers = admin_headers(self.client)
        self.obama = make_member(self.client, self.headers, "Barack Obama")
        enrol(self.client, self.headers, self.obama, url)

    def meeting(self, liveness: str) -> dict[str, Any]:
        return make_meeting(self.client, self.headers, liveness=liveness)

    def scan(self, meeting: dict[str, Any]) -> dict[str, Any]:
        qr = self.client.get(f"/api/meetings/{meeting['id']}/qr", headers=self.headers)
        scanned = self.client.post("/api/qr/scan", json={"token": qr.json()["token"]})
        assert scanned.status_code == 200, scanned.text
        body: dict[str, Any] = scanned.json()
        return body

    def check_in(
        self,
        ticket: str,
        turn: list[np.ndarray],
        *,
        selfie: np.ndarray | None = None,
        device: str = "",
    ) -> dict[str, Any]:
        shown = frame("obama") if selfie is None else selfie
        files = [("selfie", ("selfie.jpg", jpeg(shown), "image/jpeg"))]
        files += [("turn", (f"t{i}.jpg", jpeg(f), "image/jpeg")) for i, f in enumerate(turn)]
        data = {"ticket": ticket, "member_code": self.obama["member_code"], "device": device}
        if turn:
            data["turn_ms"] = ",".join(str(300 * i) for i in range(len(turn) + 1))
        answer = self.client.post("/api/checkin/phone", data=data, files=files)
        assert answer.status_code in {200, 201}, answer.text
        body: dict[str, Any] = answer.json()
        return body


@pytest.fixture
def phone(
    make_client: ClientFactory,
    pg_settings: Settings,
    face_service_url: str,  # noqa: F811  (the imported fixture)
) -> Phone:
    return Phone(make_client, pg_settings, face_service_url)


def test_tickets_carry_random_moves_unless_the_meeting_asks_for_no_challenge(
    phone: Phone,
) -> None:
    never = phone.scan(phone.meeting("never"))
    assert never["challenge"] is None and never["moves"] == []
    meeting = phone.meeting("review_only")
    drawn = [phone.scan(meeting)["moves"] for _ in range(24)]
    assert all(1 <= len(moves) <= 2 and {"left", "right"} & set(moves) for moves in drawn)
    assert {len(moves) for moves in drawn} == {1, 2}, drawn  # one in three asks two
    # "up" comes in one ticket in six, so 24 scans (the scan rate limit allows no more)
    # miss it once in 80 runs: the draw itself is checked over many tickets.
    many = [turn_sequence.draw() for _ in range(600)]
    assert {m.value for moves in many for m in moves} == {"left", "right", "up"}
    assert all(moves[0] != moves[-1] or len(moves) == 1 for moves in many)


def test_making_the_asked_moves_checks_in(phone: Phone) -> None:
    meeting = phone.meeting("always")
    seen = set()
    while len(seen) < 2:  # a single turn and a double move
        scan = phone.scan(meeting)
        if len(scan["moves"]) in seen:
            continue
        seen.add(len(scan["moves"]))
        answer = phone.check_in(scan["ticket"], performing(scan["moves"]))
        assert answer["result"] == "recorded" and answer["status"] == "approved", (scan, answer)
        meeting = phone.meeting("always")


@pytest.mark.parametrize("attack", ["still photo", "swung print", "other way", "no burst"])
def test_what_is_not_a_head_turning_as_asked_is_refused_and_counted(
    phone: Phone, attack: str
) -> None:
    scan = phone.scan(phone.meeting("always"))
    still = frame("obama")
    other = [OTHER_WAY.get(m, "left") for m in scan["moves"]]
    bursts = {
        "still photo": [still] * 4,
        "swung print": [swung(still, a) for a in (-0.6, -0.3, 0.3, 0.6, 0.3, 0.0)],
        "other way": performing(other),
        "no burst": [],
    }
    answer = phone.check_in(scan["ticket"], bursts[attack])
    assert answer["result"] == "not_recognised"
    assert f"then {asked(scan)}, slowly, and back" in answer["message"]
    assert answer["tries_left"] == 2


def test_a_burst_showing_someone_else_is_refused(phone: Phone) -> None:
    scan = phone.scan(phone.meeting("always"))
    answer = phone.check_in(scan["ticket"], [turns.noisy(frame("biden"), i) for i in range(3)])
    assert answer["result"] == "not_recognised"
    assert answer["message"].startswith("Only you may be in the photos")


def test_review_only_checks_a_clear_match_in_without_a_head_turn(phone: Phone) -> None:
    """Issue 24 defect 4: "only when the face match is uncertain" asked every phone."""
    scan = phone.scan(phone.meeting("review_only"))
    # Shown, in case the match is uncertain: the first move, "up" in one ticket in twelve.
    assert scan["challenge"] == scan["moves"][0] in {"left", "right", "up"}
    answer = phone.check_in(scan["ticket"], [])
    assert answer["result"] == "recorded" and answer["status"] == "approved", answer


def test_review_only_still_asks_a_face_that_is_not_a_clear_match_to_turn(phone: Phone) -> None:
    scan = phone.scan(phone.meeting("review_only"))
    answer = phone.check_in(scan["ticket"], [], selfie=frame("biden"))
    assert answer["result"] == "not_recognised"
    assert f"then {asked(scan)}, slowly, and back" in answer["message"]


def test_a_members_own_failed_turn_is_not_reported_as_someone_elses(phone: Phone) -> None:
    """Issue 24 defect 5: after her own failed try, Efua was told someone tried as her."""
    meeting = phone.meeting("always")
    scan = phone.scan(meeting)
    assert phone.check_in(scan["ticket"], [], device="efuas-phone")["result"] == "not_recognised"
    answer = phone.check_in(scan["ticket"], performing(scan["moves"]), device="efuas-phone")
    assert answer["result"] == "recorded" and answer["status"] == "approved"
    assert "Someone tried" not in answer["message"]
    # The same failure from another phone, on another ticket, is worth telling him.
    other = phone.scan(meeting)
    assert phone.check_in(other["ticket"], [], device="another-phone")["result"] != "recorded"
    again = phone.scan(meeting)
    answer = phone.check_in(again["ticket"], performing(again["moves"]), device="his-phone")
    assert answer["result"] == "already_checked_in"
    assert "Someone tried to check in as you once before" in answer["message"]


def push_beating_the_nose_cue(
    url: str, still: np.ndarray, direction: str, sigma: float, target: float = MIN_TURN
) -> tuple[np.ndarray, float]:
    """The still's keypoints and the smallest push of a warp around its nose (`sigma` eye
    distances wide) that moves the nose past `target` (the threshold) `direction`'s way,
    as the face-service sees it."""
    face_service = FaceServiceClient(url)
    try:
        points = np.asarray(face_service.embed(jpeg(still), purpose="checkin").face.keypoints)
        sign = 1.0 if direction == "left" else -1.0
        for amount in (0.4, 0.6, 0.8, 1.0, 1.3, 1.6):
            warped = turns.nose_warped(still, points.astype(np.float32), sigma, sign * amount)
            moved = face_service.embed(jpeg(warped), purpose="checkin").face
            shift = nose_offset(np.asarray(moved.keypoints, np.float32)) - nose_offset(points)
            if sign * shift >= target:
                return points.astype(np.float32), sign * amount
    finally:
        face_service.close()
    raise AssertionError("no warp moved the nose past the threshold: the attack is not real")


def asking(phone: Phone, meeting: dict[str, Any], moves: list[str]) -> dict[str, Any]:
    """A ticket asking `moves` (the server draws them; scan until it draws these)."""
    for _ in range(25):
        scan = phone.scan(meeting)
        if scan["moves"] == moves:
            return scan
    raise AssertionError(f"25 scans and the server never asked {moves}")


@pytest.mark.parametrize("sigma", [0.3, 0.45, 0.6, 0.75, 0.9])
def test_one_photo_warped_around_the_nose_is_refused(
    phone: Phone,
    face_service_url: str,  # noqa: F811  (the imported fixture)
    sigma: float,
) -> None:
    """Issue 24 defect 2: the warped selfie moved the nose past the threshold and passed.
    Refused whether the warped frame is sent repeated or as a timed ramp out and back,
    pushed just past the phone's threshold or past the kiosk's larger one."""
    still = frame("obama")
    beaten = {}
    for direction in ("left", "right"):  # at 0.3 wide a warp moves his nose one way only
        with contextlib.suppress(AssertionError):
            beaten[direction] = push_beating_the_nose_cue(face_service_url, still, direction, sigma)
            break
    assert beaten, "no warp moved the nose past the threshold either way: the attack is not real"
    direction, (points, push) = next(iter(beaten.items()))
    _, further = push_beating_the_nose_cue(face_service_url, still, direction, sigma, KIOSK_TURN)
    meeting = phone.meeting("always")
    for pushed in sorted({push, further}, key=abs):
        scan = asking(phone, meeting, [direction])  # a ticket has three tries
        for kind, attack in turns.warp_attacks(still, points, sigma, pushed).items():
            answer = phone.check_in(scan["ticket"], attack.frames)
            assert answer["result"] == "not_recognised", (kind, pushed, answer)
            assert "We could not see your head move as asked" in answer["message"], kind


def push_raising_the_nose(url: str, still: np.ndarray, sigma: float) -> tuple[np.ndarray, float]:
    """The still's keypoints and the smallest push of a warp moving its nose up the
    image (`sigma` eye distances wide) that reads as a chin tilted up past the
    threshold, as the face-service sees it."""
    face_service = FaceServiceClient(url)
    try:
        points = np.asarray(face_service.embed(jpeg(still), purpose="checkin").face.keypoints)
        base = turn_sequence.pose(points.astype(np.float32))
        for amount in (0.1, 0.2, 0.3, 0.4, 0.6, 0.8):
            warped = turns.nose_warped(still, points.astype(np.float32), sigma, amount, up=True)
            moved = face_service.embed(jpeg(warped), purpose="checkin").face
            now = turn_sequence.pose(np.asarray(moved.keypoints, np.float32))
            if base.pitch - now.pitch >= turn_sequence.MIN_UP:
                return points.astype(np.float32), amount
    finally:
        face_service.close()
    raise AssertionError("no warp raised the nose past the threshold: the attack is not real")


@pytest.mark.parametrize("sigma", [0.45, 0.9])
def test_one_photo_warped_so_its_nose_rises_is_refused_for_up(
    phone: Phone,
    face_service_url: str,  # noqa: F811  (the imported fixture)
    sigma: float,
) -> None:
    """The "up" move gets the same remap check as a turn: the selfie warped so its nose
    rises (the chin tilted up, read from five keypoints), out and back in timed steps,
    with the other move of the ticket made for real, is refused."""
    still = frame("obama")
    points, push = push_raising_the_nose(face_service_url, still, sigma)
    ramp = turns.warp_attacks(still, points, sigma, push, up=True)["ramp out and back"].frames
    ramp = ramp[1::2]  # half way, the furthest, back to 0.6, then none: 10 frames at most
    meeting = phone.meeting("always")
    for _ in range(60):  # one ticket in six asks "up" (one in three asks two moves)
        scan = phone.scan(meeting)
        if "up" in scan["moves"]:
            break
    else:
        raise AssertionError("60 scans and the server never asked for 'up'")
    frames: list[np.ndarray] = []
    for move in scan["moves"]:
        frames += ramp if move == "up" else performing([move])
    answer = phone.check_in(scan["ticket"], [turns.noisy(f, i) for i, f in enumerate(frames)])
    assert answer["result"] == "not_recognised", (scan["moves"], answer)
    assert "We could not see your head move as asked" in answer["message"]


def warp_beating_the_nose_cue(url: str, still: np.ndarray, direction: str, sigma: float) -> Any:
    """`still` warped around its nose with the smallest push that beats the nose threshold."""
    points, push = push_beating_the_nose_cue(url, still, direction, sigma)
    return turns.nose_warped(still, points, sigma, push)


def test_a_turn_the_right_way_but_too_small_is_told_to_go_further(
    phone: Phone,
    face_service_url: str,  # noqa: F811  (the imported fixture)
) -> None:
    """Retry-friendly: a turn of about 9 degrees (rendered in 3-D from his photo) went
    the asked way but short of the threshold; the answer says to turn further, not that
    no move was seen."""
    face_service = FaceServiceClient(face_service_url)

    def keypoints(image: np.ndarray) -> np.ndarray:
        face = face_service.embed(jpeg(image), purpose="checkin").face
        return np.asarray(face.keypoints, np.float32)

    try:
        small = turns.rendered(frame("obama"), keypoints, yaw_deg=9.0, seed=1)
    finally:
        face_service.close()
    assert small is not None
    scan = asking(phone, phone.meeting("always"), ["left"])
    answer = phone.check_in(scan["ticket"], small.frames, selfie=small.selfie)
    assert answer["result"] == "not_recognised", answer
    assert answer["message"].startswith("We saw your head move, but not far enough"), answer
    assert "turn your head to your left a little further" in answer["message"]
