"""Guided enrolment checks the asked pose on real photos: straight, slightly left, right.

The photos were sorted by eye into frontal and turned ones (each person's own left or
right, as they face the camera); the yaw the engine estimates must agree with the eye.
"""

from __future__ import annotations

import cv2
import pytest

from kiosk.admin.enrol_capture import (
    POSES,
    STRAIGHT_MAX_DEG,
    TOO_FAR,
    Assessment,
    GuidedCapture,
    assess,
    pose_advice,
)
from kiosk.inference.engine import FaceEngine
from kiosk.inference.images import BGRImage, read_image_file
from tests.kiosk.conftest import DATA, photo

pytestmark = pytest.mark.model

FRONTAL = (
    "obama", "yaoming", "img1", "img2", "img3", "img5", "img6", "img7", "img8", "img9",
    "img10", "img12", "img14", "img15", "img17", "img22", "img23", "img24", "img25",
    "img47", "img48", "img49", "img50", "img51", "img53", "img56", "img57",
)  # fmt: skip
TURNED_LEFT = ("obama3", "biden", "img11", "img16", "img58")  # nose towards the image's right
TURNED_RIGHT = ("obama2", "img4", "img13", "img55", "img61")


def picture(name: str) -> BGRImage:
    """A real photo: tests/data/calibration's `imgN`, else by `photo`'s short names."""
    if name.startswith("img"):
        return read_image_file(DATA / "calibration" / f"{name}.jpg").pixels
    return photo(name)


def t1_face(x1: int, y1: int, x2: int, y2: int) -> BGRImage:
    """One face of insightface's group photo t1.jpg, cut out with a margin, at twice the size."""
    w, h = x2 - x1, y2 - y1
    crop = photo("t1")[max(0, y1 - h) : y2 + h, max(0, x1 - w) : x2 + w]
    return cv2.resize(crop, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)


@pytest.fixture(scope="module")
def yaw(engine: FaceEngine) -> dict[str, float]:
    """The yaw of every sorted photo, as the enrolment gates measure it."""
    found = {}
    for name in FRONTAL + TURNED_LEFT + TURNED_RIGHT:
        assessment = assess(engine, picture(name))
        assert assessment.passed and assessment.yaw_deg is not None, (name, assessment.reasons)
        found[name] = assessment.yaw_deg
    return found


def test_frontal_photos_are_straight_and_neither_turn(yaw: dict[str, float]) -> None:
    for name in FRONTAL:
        assert pose_advice("straight", yaw[name]) is None, (name, yaw[name])
        for side in ("left", "right"):
            advice = pose_advice(f"slightly {side}", yaw[name])
            assert advice is not None and f"to your {side}" in advice, (name, yaw[name])


def test_turned_photos_pass_only_their_own_side(yaw: dict[str, float]) -> None:
    for names, side, other in ((TURNED_LEFT, "left", "right"), (TURNED_RIGHT, "right", "left")):
        for name in names:
            assert pose_advice(f"slightly {side}", yaw[name]) is None, (name, yaw[name])
            assert pose_advice("straight", yaw[name]) == (
                f"Your head is turned to your {side}: look straight at the camera."
            )
            assert pose_advice(f"slightly {other}", yaw[name]) == (
                f"That is turned to your {side}: turn a little to your {other} instead."
            )
    assert max(abs(yaw[n]) for n in FRONTAL) <= STRAIGHT_MAX_DEG
    assert min(abs(yaw[n]) for n in TURNED_LEFT + TURNED_RIGHT) > STRAIGHT_MAX_DEG


def test_a_mirrored_photo_turns_the_other_way_and_a_tilt_changes_nothing(
    engine: FaceEngine, yaw: dict[str, float]
) -> None:
    for name in ("obama3", "obama2", "img16", "img61"):
        mirrored = assess(engine, cv2.flip(picture(name), 1)).yaw_deg
        assert mirrored is not None and mirrored * yaw[name] < 0, (name, mirrored)
        assert abs(mirrored + yaw[name]) < 5, (name, mirrored)
    # A head tilted sideways (the photo rotated in its plane) still faces the same way,
    # give or take the keypoints' error (up to 6 degrees at these tilts).
    for name in ("obama", "obama3", "obama2"):
        image = picture(name)
        h, w = image.shape[:2]
        for angle in (-20, -10, 10, 20):
            rotation = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
            tilted = assess(engine, cv2.warpAffine(image, rotation, (w, h))).yaw_deg
            assert tilted is not None and abs(tilted - yaw[name]) < 6, (name, angle, tilted)
            assert (pose_advice("straight", tilted) is None) == (name == "obama"), (name, angle)


def test_guided_capture_keeps_a_sample_only_in_the_asked_pose(engine: FaceEngine) -> None:
    capture = GuidedCapture()
    frontal, his_left, his_right = (assess(engine, photo(n)) for n in ("obama", "obama3", "obama2"))
    assert capture.prompt == "Look straight at the camera."
    refused = capture.offer(his_left)
    assert not refused.passed and refused.reasons == (
        "Your head is turned to your left: look straight at the camera.",
    )
    assert capture.offer(frontal).passed and capture.pose == "slightly left"
    assert capture.straight_yaw == frontal.yaw_deg
    # Frontal again, and turned the wrong way: refused, saying which way to turn.
    assert capture.offer(frontal).reasons == ("Turn a little to your left.",)
    assert capture.offer(his_right).reasons == (
        "That is turned to your right: turn a little to your left instead.",
    )
    assert capture.judge(his_left).passed  # judging keeps nothing
    assert len(capture.samples) == 1
    assert capture.offer(his_left).passed and capture.pose == "slightly right"
    assert not capture.offer(frontal).passed
    assert capture.offer(his_right).passed and capture.done
    assert [s.yaw_deg for s in capture.samples] == [
        frontal.yaw_deg,
        his_left.yaw_deg,
        his_right.yaw_deg,
    ]
    assert capture.offer(frontal).reasons == ("All samples taken.",)
    capture.reset()
    assert capture.samples == [] and capture.straight_yaw == 0.0 and capture.pose == POSES[0]


def test_a_turn_too_far_says_turn_back_and_other_refusals_keep_the_engines_words(
    engine: FaceEngine,
) -> None:
    capture = GuidedCapture()
    assert capture.offer(assess(engine, photo("obama"))).passed
    assert capture.offer(assess(engine, photo("obama3"))).passed
    # A man in t1.jpg turned about 35 degrees to his right: past the enrolment gate.
    too_far = assess(engine, t1_face(270, 144, 371, 270))
    assert not too_far.passed and too_far.yaw_deg is not None and too_far.yaw_deg < -30
    assert capture.judge(too_far).reasons == (TOO_FAR,)
    # The same asked the other way round: the gate's words give way to which way to turn.
    left = GuidedCapture(samples=[capture.samples[0]])
    assert left.judge(too_far).reasons == (
        "That is turned to your right: turn a little to your left instead.",
    )
    blurred = assess(engine, cv2.GaussianBlur(photo("obama2"), (0, 0), 12))
    assert capture.judge(blurred).reasons == blurred.reasons and "blurred" in blurred.reasons[0]
    assert capture.offer(assess(engine, photo("obama2"))).passed


def test_photo_files_fill_the_samples_without_an_asked_pose(engine: FaceEngine) -> None:
    capture = GuidedCapture()
    turned = assess(engine, photo("obama2"))
    assert capture.add_photo(turned) and capture.pose == "slightly left"
    assert capture.straight_yaw == 0.0  # a photo is no straight baseline
    failed = Assessment(False, 0.1, ("Picture too blurred.",))
    assert not capture.add_photo(failed) and len(capture.samples) == 1
