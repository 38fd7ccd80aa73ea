"""The live pipeline on real photos with the real engine, frame by frame (run_once)."""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest

from kiosk.capture.frames import Frame, LatestFrame
from kiosk.events import (
    AlreadyCheckedIn,
    CheckedIn,
    Direction,
    Fallback,
    FrameAnalysed,
    Guidance,
    KioskEvent,
    LivenessFailed,
    LivenessPrompt,
    NobodyExpected,
    NotRecognised,
    PendingReview,
)
from kiosk.inference.engine import FaceEngine
from kiosk.inference.gallery import Gallery
from kiosk.inference.matching import Thresholds
from kiosk.protocol.liveness import LivenessPolicy
from kiosk.recognition.decisions import Decider
from kiosk.recognition.pipeline import Pipeline, PipelineConfig
from tests.kiosk.conftest import photo
from tests.kiosk.media import fit, swing
from tests.kiosk.pipeline_utils import MEETING, Clock, FakeRecorder, PhotoRoster, lined_up

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def roster(engine: FaceEngine) -> PhotoRoster:
    return PhotoRoster(engine, {"Barack Obama": "obama", "Joe Biden": "biden"})


@pytest.fixture
def recorder() -> FakeRecorder:
    return FakeRecorder()


def _pipeline(
    engine: FaceEngine,
    roster: PhotoRoster,
    recorder: FakeRecorder,
    thresholds: Thresholds | None = None,
) -> Pipeline:
    decider = Decider(roster, recorder, MEETING, thresholds=thresholds or engine.thresholds)
    return Pipeline(engine, LatestFrame(), decider)


def _run(pipeline: Pipeline, frames: list) -> list[KioskEvent]:  # type: ignore[type-arg]
    events: list[KioskEvent] = []
    for frame in frames:
        events += pipeline.run_once(frame)
    return events


def _decisions(events: list[KioskEvent]) -> list[KioskEvent]:
    return [e for e in events if not isinstance(e, FrameAnalysed)]


def test_a_member_is_recognised_once_while_standing_there(
    engine: FaceEngine, roster: PhotoRoster, recorder: FakeRecorder
) -> None:
    pipeline = _pipeline(engine, roster, recorder)
    clock = Clock()
    # Another photo of him than the enrolled one, held for two seconds.
    events = _run(pipeline, clock.frames([lined_up(engine, "obama3")] * 60))
    decisions = _decisions(events)
    assert len(decisions) == 1
    checked = decisions[0]
    assert isinstance(checked, CheckedIn)
    assert (checked.name, checked.method, checked.late) == ("Barack Obama", "face", False)
    assert checked.similarity >= 0.45
    assert pipeline.stats.recognitions == 1
    assert len(recorder.records) == 1
    record = recorder.records[0]
    assert (record.member_id, record.status, record.evidence_jpeg) == (
        roster.ids["Barack Obama"],
        "approved",
        None,
    )
    assert record.probe.shape == (512,) and record.model_id == engine.model_id
    assert record.second_member_id == roster.ids["Joe Biden"] and record.margin is not None
    # Recognised only after the face had been still for the dwell time, not on sight.
    frames = [e for e in events if isinstance(e, FrameAnalysed)]
    assert len(frames) == 60
    first_stable = next(i for i, f in enumerate(frames) if f.faces[0].stable)
    assert first_stable * (1 / 30) >= PipelineConfig().dwell_s - 1e-9
    assert frames[-1].faces[0].recognised


def test_coming_back_says_already_checked_in_and_records_nothing_new(
    engine: FaceEngine, roster: PhotoRoster, recorder: FakeRecorder
) -> None:
    pipeline = _pipeline(engine, roster, recorder)
    clock = Clock()
    face = lined_up(engine, "obama2")
    events = _run(pipeline, clock.frames([face] * 20) + clock.blank(30) + clock.frames([face] * 20))
    decisions = _decisions(events)
    assert [type(e) for e in decisions] == [CheckedIn, AlreadyCheckedIn]
    assert isinstance(decisions[1], AlreadyCheckedIn) and decisions[1].name == "Barack Obama"
    assert len(recorder.records) == 1


def test_a_stranger_gets_three_friendly_tries_then_the_fallback(
    engine: FaceEngine, roster: PhotoRoster, recorder: FakeRecorder
) -> None:
    pipeline = _pipeline(engine, roster, recorder)
    clock = Clock()
    # 1.5 s between tries: three tries fit in ~4 s; after the fallback, no more tries.
    events = _run(pipeline, clock.frames([lined_up(engine, "yaoming")] * 200))
    decisions = _decisions(events)
    assert decisions == [
        NotRecognised(1, 3),
        NotRecognised(2, 3),
        Fallback(3, badge_possible=False),
    ]
    assert recorder.records == []


class UnlistedRoster:
    """What the store answers for a meeting that expects nobody, with people enrolled
    for other meetings: an empty gallery for it, and that it expects nobody."""

    def __init__(self, roster: PhotoRoster) -> None:
        self.roster = roster

    def gallery_for(self, meeting_id: uuid.UUID) -> Gallery:
        return Gallery(self.roster.gallery.model_id)

    def expects_nobody(self, meeting_id: uuid.UUID) -> bool:
        return True

    def gallery_generation(self) -> int:
        return 1

    def member_name(self, member_id: uuid.UUID) -> str | None:
        return self.roster.member_name(member_id)


def test_at_a_meeting_that_expects_nobody_a_member_is_sent_to_staff_at_once(
    engine: FaceEngine, roster: PhotoRoster, recorder: FakeRecorder
) -> None:
    decider = Decider(UnlistedRoster(roster), recorder, MEETING, thresholds=engine.thresholds)
    pipeline = Pipeline(engine, LatestFrame(), decider)
    # An enrolled member, standing there for ~7 s: no "try again", no retries while in view.
    events = _run(pipeline, Clock().frames([lined_up(engine, "obama3")] * 200))
    assert _decisions(events) == [NobodyExpected()]
    assert pipeline.stats.recognitions == 1 and recorder.records == []


def test_review_band_is_recorded_pending_with_its_evidence_crop(
    engine: FaceEngine, roster: PhotoRoster, recorder: FakeRecorder
) -> None:
    # A recogniser whose accept line sits above every real pair puts him in review.
    pipeline = _pipeline(engine, roster, recorder, thresholds=Thresholds(accept=0.99))
    events = _run(pipeline, Clock().frames([lined_up(engine, "obama3")] * 20))
    decisions = _decisions(events)
    assert len(decisions) == 1 and isinstance(decisions[0], PendingReview)
    record = recorder.records[0]
    assert record.status == "pending_review"
    assert record.evidence_jpeg is not None
    crop = cv2.imdecode(np.frombuffer(record.evidence_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert crop.shape == (112, 112, 3)


def test_two_people_who_look_alike_go_to_review_by_the_margin_rule(
    engine: FaceEngine, recorder: FakeRecorder
) -> None:
    twins = PhotoRoster(engine, {"Twin A": "obama", "Twin B": "obama2"})
    pipeline = _pipeline(engine, twins, recorder)
    decisions = _decisions(_run(pipeline, Clock().frames([lined_up(engine, "obama3")] * 20)))
    assert len(decisions) == 1 and isinstance(decisions[0], PendingReview)
    record = recorder.records[0]
    assert record.margin is not None and record.margin < 0.08
    assert record.similarity >= 0.45  # accept-level, yet too close to call


def test_the_confirmation_comes_only_after_the_record_was_committed(
    engine: FaceEngine, roster: PhotoRoster, recorder: FakeRecorder
) -> None:
    pipeline = _pipeline(engine, roster, recorder)
    pipeline.events.subscribe(
        lambda e: recorder.log.append("confirmed") if isinstance(e, CheckedIn) else None
    )
    _run(pipeline, Clock().frames([lined_up(engine, "biden")] * 20))
    assert recorder.log == ["record", "confirmed"]


def test_a_failing_store_never_shows_a_confirmation(
    engine: FaceEngine, roster: PhotoRoster
) -> None:
    class BrokenRecorder(FakeRecorder):
        def record(self, checkin):  # type: ignore[no-untyped-def]
            raise OSError("disk full")

    pipeline = _pipeline(engine, roster, BrokenRecorder())
    heard: list[KioskEvent] = []
    pipeline.events.subscribe(heard.append)
    failures = 0
    for frame in Clock().frames([lined_up(engine, "biden")] * 40):
        try:
            pipeline.run_once(frame)
        except OSError:
            failures += 1
    assert not any(isinstance(e, CheckedIn) for e in heard)
    assert failures == 1  # tried again after the retry pause, not on every frame


@pytest.mark.parametrize(
    ("make", "guidance"),
    [
        (lambda e: lined_up(e, "obama", eye_px=14), Guidance.MOVE_CLOSER),
        (lambda e: (lined_up(e, "obama") * 0.12).astype(np.uint8), Guidance.TOO_DARK),
        (lambda e: cv2.GaussianBlur(lined_up(e, "obama"), (0, 0), 6), Guidance.HOLD_STILL),
        (lambda e: fit(photo("t1")), Guidance.ONE_AT_A_TIME),
    ],
    ids=["small", "dark", "blurred", "group"],
)
def test_guidance_from_the_quality_reasons_and_no_check_in(
    engine: FaceEngine,
    roster: PhotoRoster,
    recorder: FakeRecorder,
    make,
    guidance,  # type: ignore[no-untyped-def]
) -> None:
    pipeline = _pipeline(engine, roster, recorder)
    events = _run(pipeline, Clock().frames([make(engine)] * 15))
    frames = [e for e in events if isinstance(e, FrameAnalysed)]
    assert {f.guidance for f in frames} == {guidance}
    assert _decisions(events) == [] and recorder.records == []


def test_late_arrivals_are_marked_late(
    engine: FaceEngine, roster: PhotoRoster, recorder: FakeRecorder
) -> None:
    late_meeting = replace(MEETING, late_after=datetime.now(UTC) - timedelta(minutes=1))
    decider = Decider(roster, recorder, late_meeting, thresholds=engine.thresholds)
    pipeline = Pipeline(engine, LatestFrame(), decider)
    decisions = _decisions(_run(pipeline, Clock().frames([lined_up(engine, "biden")] * 20)))
    assert isinstance(decisions[0], CheckedIn) and decisions[0].late


class _Draws(random.Random):
    """Draws the given direction, so each direction is tested on purpose."""

    def __init__(self, direction: Direction) -> None:
        super().__init__()
        self.direction = direction

    def choice(self, seq):  # type: ignore[no-untyped-def]
        return self.direction


def _with_liveness(
    engine: FaceEngine,
    roster: PhotoRoster,
    recorder: FakeRecorder,
    direction: Direction = Direction.LEFT,
) -> Pipeline:
    meeting = replace(MEETING, liveness=LivenessPolicy.ALWAYS)
    decider = Decider(roster, recorder, meeting, thresholds=engine.thresholds)
    return Pipeline(engine, LatestFrame(), decider, rng=_Draws(direction))


def _until_prompt(pipeline: Pipeline, frame: np.ndarray) -> tuple[LivenessPrompt, float]:
    for seq in range(1, 40):
        prompts = [
            e
            for e in pipeline.run_once(Frame(frame, seq, seq / 30))
            if isinstance(e, LivenessPrompt)
        ]
        if prompts:
            return prompts[0], seq / 30
    raise AssertionError("no liveness prompt")


@pytest.mark.parametrize("direction", list(Direction))
def test_liveness_a_real_head_turn_in_the_asked_direction_checks_in(
    engine: FaceEngine, roster: PhotoRoster, recorder: FakeRecorder, direction: Direction
) -> None:
    pipeline = _with_liveness(engine, roster, recorder, direction)
    prompt, now = _until_prompt(pipeline, lined_up(engine, "obama"))
    assert prompt.direction is direction
    assert recorder.records == []  # nothing recorded before the challenge is met
    turned = lined_up(engine, "obama3" if prompt.direction is Direction.LEFT else "obama2")
    events: list[KioskEvent] = []
    for step in range(1, 6):
        events += pipeline.run_once(Frame(turned, 100 + step, now + step / 30))
    decisions = _decisions(events)
    assert len(decisions) == 1 and isinstance(decisions[0], CheckedIn)
    assert decisions[0].name == "Barack Obama" and len(recorder.records) == 1


def test_liveness_a_photo_swung_in_front_of_the_camera_is_refused(
    engine: FaceEngine, roster: PhotoRoster, recorder: FakeRecorder
) -> None:
    pipeline = _with_liveness(engine, roster, recorder)
    front = lined_up(engine, "obama")
    _prompt, now = _until_prompt(pipeline, front)
    events: list[KioskEvent] = []
    for step, angle in enumerate([10, 25, 40, 25, 0, -25, -40, -25, 0] * 3, start=1):
        events += pipeline.run_once(Frame(swing(front, angle), 100 + step, now + step * 0.25))
    decisions = _decisions(events)
    assert isinstance(decisions[0], LivenessFailed) and "No head turn" in decisions[0].reason
    assert decisions[1] == NotRecognised(1, 3)
    assert recorder.records == []


def test_a_face_standing_there_is_followed_by_crops_and_nobody_costs_no_search(
    engine: FaceEngine, roster: PhotoRoster, recorder: FakeRecorder
) -> None:
    pipeline = _pipeline(engine, roster, recorder)
    clock = Clock()
    events = _run(pipeline, clock.frames([lined_up(engine, "obama3")] * 60))
    frames = [e for e in events if isinstance(e, FrameAnalysed)]
    assert all(len(f.faces) == 1 for f in frames)  # the box is there on every frame
    searched = pipeline.finder.stats
    assert searched.full <= 3 and searched.crops >= 57  # two seconds: a full search a second
    full_before = searched.full
    _run(pipeline, clock.blank(90))  # he left; three seconds of an empty, unchanging scene
    # One full search notices he left, the motion gate skips the rest but for a look
    # every two seconds.
    assert searched.full - full_before <= 3 and searched.skipped >= 85
    assert [type(e) for e in _decisions(events)] == [CheckedIn]


def test_each_decision_logs_how_many_people_were_searched_and_the_accept_line(
    engine: FaceEngine,
    roster: PhotoRoster,
    recorder: FakeRecorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pipeline = _pipeline(engine, roster, recorder)
    with caplog.at_level(logging.INFO, logger="kiosk.recognition.decisions"):
        _run(pipeline, Clock().frames([lined_up(engine, "obama3")] * 30))
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Face decision")]
    used = engine.thresholds.for_gallery(2)
    assert line.startswith(
        f"Face decision accept: 1:N among 2, accept {used.accept:.3f} review "
        f"{used.review:.3f} margin {used.margin:.3f}; best similarity 0."
    ), line
    assert "Obama" not in line
