"""Embeddings made ahead of need: handed out only for the key they were made for."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from kiosk.capture.frames import LatestFrame
from kiosk.events import CheckedIn, FrameAnalysed, KioskEvent
from kiosk.inference.engine import FaceEngine
from kiosk.inference.faces import Vector
from kiosk.inference.images import BGRImage
from kiosk.recognition.decisions import Decider
from kiosk.recognition.pipeline import Pipeline
from kiosk.recognition.speculation import SpeculativeEmbedder
from tests.kiosk.pipeline_utils import MEETING, Clock, FakeRecorder, PhotoRoster, lined_up

pytestmark = pytest.mark.model


def _wait_for(condition, what: str, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.01)


def _embedder(engine: FaceEngine) -> SpeculativeEmbedder:
    return SpeculativeEmbedder(lambda crop: engine.recognizer.embed([crop])[0])


def _crop(engine: FaceEngine, name: str) -> BGRImage:
    frame = lined_up(engine, name)
    face = engine.detect(frame, det_size=320)[0]
    return engine.recognizer.align(frame, face)


def test_a_result_is_handed_out_once_and_only_for_its_own_key(engine: FaceEngine) -> None:
    embedder = _embedder(engine)
    crop = _crop(engine, "obama3")
    assert embedder.offer((1, 0, 0.5), crop)
    _wait_for(lambda: embedder.made == 1, "the speculative embedding")
    # Another track, the same track after someone stepped in, the same face after it moved.
    for other in [(2, 0, 0.5), (1, 1, 0.5), (1, 0, 0.7)]:
        assert embedder.take(other, timeout=0.1) is None
    taken = embedder.take((1, 0, 0.5), timeout=0.1)
    assert taken is not None and taken.crop is crop
    np.testing.assert_allclose(taken.vector, engine.recognizer.embed([crop])[0], atol=1e-5)
    assert embedder.take((1, 0, 0.5), timeout=0.1) is None  # used once
    embedder.close()


def test_take_waits_for_the_embedding_in_progress_and_a_busy_embedder_declines(
    engine: FaceEngine,
) -> None:
    release = threading.Event()

    def slow(crop: BGRImage) -> Vector:
        assert release.wait(30), "the test never released the embedding"
        return engine.recognizer.embed([crop])[0]

    embedder = SpeculativeEmbedder(slow)
    crop = _crop(engine, "biden")
    assert embedder.offer((1, 0, 0.0), crop)
    assert not embedder.offer((2, 0, 0.0), crop)  # one at a time: the next frame offers again
    assert embedder.take((2, 0, 0.0), timeout=0.1) is None  # not waited for: not its key
    threading.Timer(0.2, release.set).start()
    taken = embedder.take((1, 0, 0.0), timeout=30)
    assert taken is not None and taken.key == (1, 0, 0.0)
    embedder.close()


@pytest.fixture(scope="module")
def roster(engine: FaceEngine) -> PhotoRoster:
    return PhotoRoster(engine, {"Barack Obama": "obama", "Joe Biden": "biden"})


def _pipeline(engine: FaceEngine, roster: PhotoRoster, recorder: FakeRecorder) -> Pipeline:
    return Pipeline(
        engine, LatestFrame(), Decider(roster, recorder, MEETING, thresholds=engine.thresholds)
    )


def test_the_embedding_is_made_while_the_face_settles_and_decides_the_same(
    engine: FaceEngine, roster: PhotoRoster
) -> None:
    recorder = FakeRecorder()
    pipeline = _pipeline(engine, roster, recorder)
    clock = Clock()
    face = lined_up(engine, "obama3")
    first = clock.frames([face])
    pipeline.run_once(first[0])  # passes the gates: the embedding starts at once
    _wait_for(lambda: pipeline._speculation.made == 1, "the embedding started on sight")
    events: list[KioskEvent] = []
    for frame in clock.frames([face] * 20):
        events += pipeline.run_once(frame)
    decisions = [e for e in events if not isinstance(e, FrameAnalysed)]
    assert len(decisions) == 1 and isinstance(decisions[0], CheckedIn)
    assert decisions[0].name == "Barack Obama"
    assert (pipeline.stats.recognitions, pipeline.stats.speculated) == (1, 1)
    # The same decision as embedding the settled face's crop there and then.
    settled = engine.recognizer.embed([_crop(engine, "obama3")])[0]
    assert float(np.dot(recorder.records[0].probe, settled)) > 0.99
    pipeline.stop()


def test_a_speculative_embedding_never_checks_in_someone_who_stepped_into_the_spot(
    engine: FaceEngine, roster: PhotoRoster
) -> None:
    """He passes the gates and leaves before the dwell; she steps into the same spot."""
    recorder = FakeRecorder()
    pipeline = _pipeline(engine, roster, recorder)
    clock = Clock()
    events: list[KioskEvent] = []
    for frame in clock.frames([lined_up(engine, "obama3")] * 3):
        events += pipeline.run_once(frame)
    _wait_for(lambda: pipeline._speculation.made == 1, "his speculative embedding")
    # 0.4 s away: long enough to be someone else, short enough to keep the track's id.
    for frame in clock.blank(12) + clock.frames([lined_up(engine, "biden")] * 20):
        events += pipeline.run_once(frame)
    boxes = [f.faces[0].track_id for f in events if isinstance(f, FrameAnalysed) and f.faces]
    assert set(boxes) == {1}  # the same track all along: only the key tells them apart
    decisions = [e for e in events if not isinstance(e, FrameAnalysed)]
    assert len(decisions) == 1 and isinstance(decisions[0], CheckedIn)
    assert decisions[0].name == "Joe Biden"
    assert [r.member_id for r in recorder.records] == [roster.ids["Joe Biden"]]
    pipeline.stop()
