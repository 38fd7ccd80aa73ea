"""The IoU tracker on real detections: one id per face, stillness, leaving and returning."""

from __future__ import annotations

import pytest

from kiosk.inference.engine import FaceEngine
from kiosk.recognition.pipeline import PipelineConfig
from kiosk.recognition.tracker import IouTracker, iou
from tests.kiosk.conftest import photo
from tests.kiosk.media import fit
from tests.kiosk.pipeline_utils import lined_up

pytestmark = pytest.mark.model


def test_iou_of_boxes() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0


def _faces(engine: FaceEngine, image):  # type: ignore[no-untyped-def]
    return engine.detect(image, det_size=320)


def test_a_face_walking_in_then_standing_keeps_one_id_and_becomes_still(
    engine: FaceEngine,
) -> None:
    tracker = IouTracker()
    walking = [lined_up(engine, "obama", centre=(200.0 + 12 * i, 220.0)) for i in range(8)]
    standing = [lined_up(engine, "obama", centre=(296.0 + (i % 2), 220.0)) for i in range(8)]
    ids, still = [], []
    for index, frame in enumerate(walking + standing):
        now = index / 15
        (track,) = tracker.update(_faces(engine, frame), now)
        ids.append(track.track_id)
        still.append(track.still_for(now))
    assert set(ids) == {1}
    assert max(still[:8]) < PipelineConfig().dwell_s  # 12 px a frame: walking, never still
    assert still[-1] == pytest.approx(7 / 15)  # still since the first standing frame


def test_each_person_in_a_group_keeps_their_own_id(engine: FaceEngine) -> None:
    tracker = IouTracker()
    group = fit(photo("t1"))
    first = tracker.update(_faces(engine, group), 0.0)
    second = tracker.update(_faces(engine, group), 1 / 15)
    assert len(first) == 6
    assert [t.track_id for t in first] == [t.track_id for t in second]
    assert len({t.track_id for t in first}) == 6


def test_a_short_gap_is_forgiven_but_someone_who_left_is_new(engine: FaceEngine) -> None:
    tracker = IouTracker()
    faces = _faces(engine, lined_up(engine, "biden"))
    (before,) = tracker.update(faces, 0.0)
    tracker.update([], 0.3)
    (after_blink,) = tracker.update(faces, 0.5)
    tracker.update([], 1.0)
    tracker.update([], 1.4)
    (returned,) = tracker.update(faces, 1.5)
    assert after_blink.track_id == before.track_id
    assert returned.track_id != before.track_id
    assert len(before.keypoints) == 2 and len(returned.keypoints) == 1


def test_a_face_back_after_a_pause_is_decided_afresh(engine: FaceEngine) -> None:
    """Someone stepping into the spot just left must not inherit the last person's check-in."""
    tracker = IouTracker()
    faces = _faces(engine, lined_up(engine, "biden"))
    (track,) = tracker.update(faces, 0.0)
    track.decided = True
    tracker.update(faces, 0.1)  # a missed detection or two: the same face
    (same,) = tracker.update(faces, 0.3)
    assert same.decided
    tracker.update([], 0.5)  # 0.4 s of processed frames without a face in that place
    (stepped_in,) = tracker.update(faces, 0.7)
    assert stepped_in.track_id == track.track_id and not stepped_in.decided
    assert stepped_in.still_for(0.7) == 0.0


def test_slowly_processed_frames_of_one_face_are_not_a_pause(engine: FaceEngine) -> None:
    """Under heavy load frames may come 0.5 s apart: the face seen each time stays decided."""
    tracker = IouTracker()
    faces = _faces(engine, lined_up(engine, "biden"))
    (track,) = tracker.update(faces, 0.0)
    track.decided = True
    for step in range(1, 5):
        (same,) = tracker.update(faces, step * 0.5)
        assert same.track_id == track.track_id and same.decided
