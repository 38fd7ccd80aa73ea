"""The two cues read on a move's peak frame, on real photos framed as the phone sends
them: the surroundings must change and the face must be no 2-D remap of the selfie's.
Each cue is shown refusing something the other lets through, so neither can break
unnoticed; the whole check through the API is in test_phone_liveness."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from kiosk.inference.engine import FaceEngine
from kiosk.inference.packs import resolve_pack
from kiosk.inference.sessions import ThreadSettings
from server.backend.services.turn_cues import REMAP_MIN, RING_MIN, change, remap_residual, ring
from tests.kiosk.conftest import photo
from tests.utils import turns

pytestmark = pytest.mark.model

Face = tuple[np.ndarray, list[float], np.ndarray]
Find = Callable[[np.ndarray], Face]  # the largest face: (image, box, keypoints)


@pytest.fixture(scope="module")
def find() -> Find:
    engine = FaceEngine.load(
        resolve_pack("vectron", cache_dir=Path("/nonexistent-cache")),
        ThreadSettings(intra_op_threads=1),
    )

    def largest(image: np.ndarray) -> Face:
        faces = engine.detect(image, det_size=640)
        assert faces, "no face found in a photo of a face"
        face = max(faces, key=lambda f: f.inter_eye_distance)
        return image, [float(v) for v in face.bbox], np.asarray(face.keypoints, np.float32)

    return largest


def framed(find: Find, name: str, *, mirror: bool = False, seed: int = 0) -> Face:
    """The photo's face at the place and size a phone held still shows it (640x480)."""
    pixels = photo(name)
    pixels = np.ascontiguousarray(pixels[:, ::-1]) if mirror else pixels
    _, _, points = find(pixels)
    return find(turns.face_framed(pixels, points, seed))


def cues(before: Face, after: Face) -> tuple[float, float]:
    """(surroundings change, remap residual) of `after` against the selfie `before`."""
    ring_change = change(ring(before[0], before[1]), ring(after[0], after[1]))
    return ring_change, remap_residual(before[0], before[1], after[0], after[1])


def test_a_real_turn_changes_both_and_the_same_still_again_neither(find: Find) -> None:
    selfie = framed(find, "obama")
    turned = framed(find, "obama2", mirror=True, seed=1)  # him turned to his own left
    surroundings, remap = cues(selfie, turned)
    assert surroundings >= RING_MIN and remap >= REMAP_MIN, (surroundings, remap)
    again = find(turns.handheld(selfie[0], 7))
    surroundings, remap = cues(selfie, again)
    assert surroundings < RING_MIN and remap < REMAP_MIN, (surroundings, remap)


@pytest.mark.parametrize("sigma", [0.45, 0.9])
@pytest.mark.parametrize("up", [False, True], ids=["sideways", "up"])
def test_the_selfie_warped_at_the_nose_is_a_remap(find: Find, sigma: float, up: bool) -> None:
    """A warp as wide as the face moves its surroundings too: the remap refuses it. The
    push is about what it takes to beat the move threshold; pushed much further (1.3
    eye distances at 0.9 wide) a warp leaves as much residual as a real turn
    (bench/bench_turn_cues.py), which this cue does not refuse."""
    selfie = framed(find, "obama")
    push = 0.3 if up else 0.6
    warped = find(turns.noisy(turns.nose_warped(selfie[0], selfie[2], sigma, push, up=up), 3))
    assert cues(selfie, warped)[1] < REMAP_MIN


def test_a_turned_face_pasted_on_the_selfies_background_keeps_its_surroundings(
    find: Find,
) -> None:
    """A real turned face cut out and laid over a still frame is no remap of the selfie,
    but nothing around it changed: the surroundings refuse it."""
    selfie = framed(find, "obama")
    turned = framed(find, "obama2", mirror=True, seed=1)
    # The middle of the turned face (eyes, nose, mouth), blended in over a soft edge.
    x1, y1, x2, y2 = turned[1]
    rows, cols = np.mgrid[0:480, 0:640].astype(np.float32)
    inside = ((cols - (x1 + x2) / 2) / ((x2 - x1) * 0.4)) ** 2 + (
        (rows - (y1 + y2) / 2) / ((y2 - y1) * 0.42)
    ) ** 2
    weight = np.clip((1 - inside) / 0.2, 0, 1)[..., None]
    blend = selfie[0] * (1 - weight) + turned[0] * weight
    pasted = np.asarray(blend, np.uint8)
    surroundings, remap = cues(selfie, find(pasted))
    assert surroundings < RING_MIN and remap >= REMAP_MIN, (surroundings, remap)
