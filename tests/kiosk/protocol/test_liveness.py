"""The head-turn challenge on real keypoints: a real head turning, and photos that cannot."""

from __future__ import annotations

import random

import numpy as np
import pytest

from kiosk.inference.engine import FaceEngine
from kiosk.inference.matching import Band
from kiosk.protocol.liveness import (
    Direction,
    HeadTurnChallenge,
    LivenessPolicy,
    Verdict,
    nose_offset,
)
from tests.kiosk.media import swing
from tests.kiosk.pipeline_utils import lined_up

pytestmark = pytest.mark.model


def _keypoints(engine: FaceEngine, frame: np.ndarray) -> np.ndarray:
    (face,) = engine.detect(frame, det_size=320)
    return face.keypoints


def _sequence(engine: FaceEngine, frames: list[np.ndarray]) -> list[tuple[float, np.ndarray]]:
    return [(i / 15, _keypoints(engine, f)) for i, f in enumerate(frames)]


@pytest.fixture(scope="module")
def poses(engine: FaceEngine) -> dict[str, np.ndarray]:
    """One man in three real photos: facing the camera, turned each way."""
    return {
        "front": lined_up(engine, "obama"),
        "his_right": lined_up(engine, "obama2"),
        "his_left": lined_up(engine, "obama3"),
    }


def test_the_nose_moves_between_the_eyes_of_a_turning_head(
    engine: FaceEngine, poses: dict[str, np.ndarray]
) -> None:
    offsets = {name: nose_offset(_keypoints(engine, f)) for name, f in poses.items()}
    assert offsets["his_left"] - offsets["front"] > 0.1
    assert offsets["his_right"] - offsets["front"] < -0.1


@pytest.mark.parametrize(
    ("direction", "turned", "verdict"),
    [
        (Direction.LEFT, "his_left", Verdict.PASSED),
        (Direction.RIGHT, "his_right", Verdict.PASSED),
        (Direction.LEFT, "his_right", Verdict.FAILED),  # turned the other way
        (Direction.RIGHT, "his_left", Verdict.FAILED),
    ],
)
def test_a_real_head_turn_passes_only_in_the_asked_direction(
    engine: FaceEngine,
    poses: dict[str, np.ndarray],
    direction: Direction,
    turned: str,
    verdict: Verdict,
) -> None:
    frames = [poses["front"]] * 3 + [poses[turned]] * 3
    challenge = HeadTurnChallenge(direction, started_at=0.0)
    assert challenge.judge(_sequence(engine, frames)) is verdict


@pytest.mark.parametrize("direction", list(Direction))
def test_a_photo_swung_in_front_of_the_camera_never_passes(
    engine: FaceEngine, poses: dict[str, np.ndarray], direction: Direction
) -> None:
    angles = [0, 10, 20, 30, 40, 30, 15, 0, -15, -30, -40, -20, 0] * 3
    keypoints = [_keypoints(engine, swing(poses["front"], a)) for a in angles]
    challenge = HeadTurnChallenge(direction, started_at=0.0)
    sequence = [(i * 0.15, k) for i, k in enumerate(keypoints)]  # ~6 s, past the time-out
    assert challenge.judge(sequence) is Verdict.FAILED
    assert "No head turn" in challenge.reason


def test_a_photo_held_still_times_out(engine: FaceEngine, poses: dict[str, np.ndarray]) -> None:
    challenge = HeadTurnChallenge(Direction.LEFT, started_at=0.0)
    sequence = _sequence(engine, [poses["front"]] * 2)
    still = [(t / 15, sequence[1][1]) for t in range(100)]
    assert challenge.judge(still) is Verdict.FAILED


def test_direction_is_drawn_per_attempt() -> None:
    rng = random.Random(4)
    drawn = {HeadTurnChallenge.start(0.0, rng).direction for _ in range(20)}
    assert drawn == set(Direction)


def test_policy_decides_when_the_challenge_is_asked() -> None:
    assert LivenessPolicy.ALWAYS.required_for(Band.ACCEPT)
    assert LivenessPolicy.ALWAYS.required_for(Band.REVIEW)
    assert not LivenessPolicy.REVIEW_ONLY.required_for(Band.ACCEPT)
    assert LivenessPolicy.REVIEW_ONLY.required_for(Band.REVIEW)
    assert not LivenessPolicy.NEVER.required_for(Band.REVIEW)
    assert not LivenessPolicy.ALWAYS.required_for(Band.REJECT)
