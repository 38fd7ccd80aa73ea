"""Finding faces cheaply on real photos: crops around followed faces, the full frame rarely."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kiosk.capture.motion import MotionGate
from kiosk.inference.engine import LIVE_DET_SIZE, FaceEngine
from kiosk.inference.faces import DetectedFace
from kiosk.recognition.finder import FULL_EVERY_S, FaceFinder, Search, detection_sizes
from kiosk.recognition.tracker import IouTracker, Track
from kiosk.syncing.status import SyncStatus
from tests.kiosk.pipeline_utils import FPS, lined_up
from ui.runtime import load_engine

pytestmark = pytest.mark.model


class _Recording(FaceEngine):
    """The real engine, noting the input size of each detection it runs."""

    def __init__(self, engine: FaceEngine) -> None:
        super().__init__(engine.detector, engine.recognizer, engine.spec)
        self.sizes: list[int] = []

    def detect(self, image, *, det_size=640):  # type: ignore[no-untyped-def]
        self.sizes.append(det_size)
        return super().detect(image, det_size=det_size)


def _follow(
    finder: FaceFinder, frames: list[np.ndarray], start: float = 0.0
) -> list[tuple[list[Track], Search]]:
    tracker, followed, out = IouTracker(), [], []
    for index, frame in enumerate(frames):
        now = start + index / FPS
        faces, search = finder.find(frame, followed, now)
        followed = tracker.update(faces, now)
        out.append((followed, search))
    return out


def _empty_scene(count: int, seed: int = 0) -> list[np.ndarray]:
    """A grey wall seen by a noisy camera: every frame differs by sensor noise only."""
    rng = np.random.default_rng(seed)
    return [
        np.clip(90 + rng.normal(0, 4, (480, 640, 3)), 0, 255).astype(np.uint8) for _ in range(count)
    ]


def test_a_followed_face_is_found_in_a_small_crop_where_the_full_frame_finds_it(
    engine: FaceEngine,
) -> None:
    recording = _Recording(engine)
    finder = FaceFinder(recording, LIVE_DET_SIZE)
    frame = lined_up(engine, "obama3")
    ((full,), first), ((cropped,), second) = [
        (tuple(t.face for t in tracks), search) for tracks, search in _follow(finder, [frame] * 2)
    ]
    assert (first, second) == (Search.FULL, Search.CROPS)
    # The crop ran at a third of the full search's pixels or less...
    assert recording.sizes[0] == LIVE_DET_SIZE and recording.sizes[1] ** 2 <= LIVE_DET_SIZE**2 / 2.5
    # ...and finds the face where the full frame does: within a pixel or so at a 60 px
    # eye distance (what a camera's own frame-to-frame jitter moves it).
    assert isinstance(full, DetectedFace) and isinstance(cropped, DetectedFace)
    assert np.abs(np.subtract(full.bbox, cropped.bbox)).max() < 3.0
    assert np.abs(full.keypoints - cropped.keypoints).max() < 1.5


def test_a_face_walking_across_keeps_its_id_and_is_followed_by_crops(engine: FaceEngine) -> None:
    finder = FaceFinder(engine, LIVE_DET_SIZE)
    walking = [lined_up(engine, "biden", centre=(200.0 + 8 * i, 220.0)) for i in range(24)]
    steps = _follow(finder, walking)
    assert all(len(tracks) == 1 for tracks, _ in steps)
    assert {tracks[0].track_id for tracks, _ in steps} == {1}
    searches = [search for _, search in steps]
    # 24 frames at 30 fps: the first frame and one more after a second are full searches.
    assert searches.count(Search.FULL) <= 2 and searches.count(Search.CROPS) >= 22


def test_a_newcomer_is_found_by_the_full_search_within_a_second(engine: FaceEngine) -> None:
    finder = FaceFinder(engine, LIVE_DET_SIZE)
    alone = lined_up(engine, "obama3", centre=(180.0, 220.0), eye_px=50)
    other = lined_up(engine, "biden", centre=(470.0, 220.0), eye_px=50)
    together = np.hstack([alone[:, :320], other[:, 320:]])
    steps = _follow(finder, [alone] * 10 + [together] * int(FPS * FULL_EVERY_S + 2))
    counts = [len(tracks) for tracks, _ in steps]
    assert counts[:10] == [1] * 10
    seen_both = counts.index(2, 10)
    assert seen_both - 10 <= FPS * FULL_EVERY_S
    assert steps[seen_both][1] is Search.FULL


def test_a_face_lost_from_its_crop_is_searched_for_in_the_full_frame_at_once(
    engine: FaceEngine,
) -> None:
    finder = FaceFinder(engine, LIVE_DET_SIZE)
    left = lined_up(engine, "biden", centre=(150.0, 220.0))
    right = lined_up(engine, "biden", centre=(500.0, 220.0))  # a jump no crop covers
    steps = _follow(finder, [left] * 3 + [right])
    tracks, search = steps[-1]
    assert search is Search.FULL and finder.stats.lost == 1
    assert len(tracks) == 1 and tracks[0].face.bbox[0] > 320


def test_an_empty_scene_is_not_searched_until_something_moves(engine: FaceEngine) -> None:
    recording = _Recording(engine)
    finder = FaceFinder(recording, LIVE_DET_SIZE, motion=MotionGate(recheck_s=2.0))
    steps = _follow(finder, _empty_scene(90))  # three seconds of nobody
    # The first frame and one look after two seconds; sensor noise is not motion.
    assert [s for _, s in steps].count(Search.FULL) == 2
    assert finder.stats.skipped == 88 and len(recording.sizes) == 2
    # Someone steps in: found on the very frame they appear.
    tracks, search = _follow(finder, [lined_up(engine, "obama3")], start=90 / FPS)[0]
    assert search is Search.FULL and len(tracks) == 1


def test_the_motion_gate_ignores_noise_and_sees_a_small_change() -> None:
    gate = MotionGate(recheck_s=60.0)
    scene = _empty_scene(20, seed=1)
    assert gate.should_look(scene[0], 0.0)  # the first frame is always looked at
    assert not any(gate.should_look(frame, i / FPS) for i, frame in enumerate(scene[1:], 1))
    changed = scene[-1].copy()
    changed[200:260, 300:350] = 200  # 50x60 px: less than a face at the smallest check-in size
    assert gate.should_look(changed, 1.0)
    assert not gate.should_look(changed, 1.1)  # it is now the reference


def test_every_crop_the_finder_detects_at_is_a_size_the_kiosk_warms_up(
    engine: FaceEngine,
) -> None:
    recording = _Recording(engine)
    finder = FaceFinder(recording, LIVE_DET_SIZE)
    frame = np.full((480, 640, 3), 127, dtype=np.uint8)
    for side in range(8, 480, 16):  # a face from far away to filling the frame...
        for cx in range(0, 641, 80):  # ...anywhere, cut by the frame's edges too
            for cy in range(0, 481, 80):
                box = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
                finder._around(frame, box)
    assert recording.sizes, "no crop was detected"
    assert set(recording.sizes) <= set(detection_sizes(LIVE_DET_SIZE))


def test_the_kiosk_loads_its_detector_warm_at_every_size_it_detects_at(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Loaded as the kiosk window loads it; a first run at a new size while someone stands
    # at the kiosk would plan that size's memory then and stall the first detection.
    monkeypatch.setenv("FACE_MODEL", "vectron")
    monkeypatch.setenv("FACE_MODEL_CACHE", str(tmp_path / "cache"))
    loaded = load_engine(SyncStatus())
    warmed = loaded.detector.warmed_sizes  # type: ignore[attr-defined]
    assert set(detection_sizes(LIVE_DET_SIZE)) <= warmed
