"""The screen flow: which screen shows what, from the core's events and the clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from kiosk.board import QR_SAFETY_MARGIN_S, MeetingBoard
from kiosk.events import (
    AlreadyCheckedIn,
    BadgeRead,
    BadgeRefused,
    CheckedIn,
    Direction,
    FaceBox,
    Fallback,
    FrameAnalysed,
    Guidance,
    LivenessPrompt,
    NobodyExpected,
    NotRecognised,
    PendingReview,
)
from ui.flow import FlowTiming, Screen, ScreenFlow, Sound, Tone, clock_text

AT = datetime(2026, 11, 29, 9, 5, tzinfo=UTC)
TIMING = FlowTiming(message=4.0, prompt=8.0, idle_after=20.0)


def analysed(*, faces: int, guidance: Guidance | None = None) -> FrameAnalysed:
    boxes = tuple(FaceBox(i, (10, 10, 90, 90), stable=True, recognised=False) for i in range(faces))
    return FrameAnalysed(1, (640, 480), boxes, guidance, 0.0, 0.0)


def test_check_in_shows_the_name_time_and_late_then_returns_to_live() -> None:
    flow = ScreenFlow(TIMING)
    message = flow.on_event(CheckedIn(uuid.uuid4(), "Ama Owusu", AT, True, "face", 0.7, "k"), 1.0)
    assert message is not None
    assert message.tone is Tone.SUCCESS and message.sound is Sound.SUCCESS
    assert message.headline == "Welcome, Ama Owusu"
    assert message.detail == f"Checked in at {clock_text(AT)} \N{EM DASH} late"
    assert flow.screen(4.9) is Screen.MESSAGE
    assert flow.screen(5.1) is Screen.LIVE


def test_on_time_check_in_does_not_say_late() -> None:
    message = ScreenFlow(TIMING).on_event(
        CheckedIn(uuid.uuid4(), "Ama", AT, False, "face", 0.7, "k"), 0.0
    )
    assert message is not None and "late" not in message.detail


def test_repeat_review_retry_and_fallback_say_what_happened() -> None:
    flow = ScreenFlow(TIMING)
    repeat = flow.on_event(AlreadyCheckedIn(uuid.uuid4(), "Kofi", AT), 0.0)
    assert repeat is not None and repeat.headline == "Kofi, you are already checked in"
    review = flow.on_event(PendingReview(uuid.uuid4(), "Kofi", AT, "k"), 0.0)
    assert review is not None and "An admin will confirm" in review.detail
    retry = flow.on_event(NotRecognised(tries=2, max_tries=3), 0.0)
    assert retry is not None and retry.tone is Tone.WARNING and "try 2 of 3" in retry.detail
    assert retry.sound is Sound.FAILURE
    fallback = flow.on_event(Fallback(tries=3, badge_possible=True), 0.0)
    assert fallback is not None and "badge" in fallback.detail and fallback.tone is Tone.FAILURE
    staff_only = flow.on_event(Fallback(tries=3, badge_possible=False), 0.0)
    assert staff_only is not None and "badge" not in staff_only.detail
    unlisted = flow.on_event(NobodyExpected(), 0.0)
    assert unlisted is not None and unlisted.headline == "Please ask a staff member to check you in"
    assert "Check-in by camera is off for this meeting" in unlisted.detail
    refused = flow.on_event(BadgeRefused("This badge was revoked."), 0.0)
    assert refused is not None and refused.detail.startswith("This badge was revoked.")


def test_badge_and_liveness_prompts_stay_on_the_live_screen() -> None:
    flow = ScreenFlow(TIMING)
    assert flow.on_event(BadgeRead(uuid.uuid4(), "Esi"), 0.0) is None
    assert flow.screen(1.0) is Screen.LIVE
    assert flow.guidance() == "Hello Esi: now look at the camera"
    flow.on_event(LivenessPrompt(Direction.LEFT), 2.0)
    assert flow.guidance() == "Turn your head slightly to your left"
    assert flow.screen(9.0) is Screen.LIVE  # prompt still up
    flow.screen(10.5)
    assert flow.guidance() is None  # the prompt timed out


def test_guidance_comes_from_the_newest_frame() -> None:
    flow = ScreenFlow(TIMING)
    flow.on_event(analysed(faces=1, guidance=Guidance.MOVE_CLOSER), 0.0)
    assert flow.guidance() == "Please move closer"
    flow.on_event(analysed(faces=1), 0.1)
    assert flow.guidance() is None


def test_idle_screen_after_nobody_for_a_while_and_live_when_a_face_comes() -> None:
    flow = ScreenFlow(TIMING, now=0.0)
    flow.on_event(analysed(faces=0), 5.0)
    assert flow.screen(19.9) is Screen.LIVE
    assert flow.screen(20.0) is Screen.IDLE
    flow.on_event(analysed(faces=1), 30.0)
    assert flow.screen(30.0) is Screen.LIVE


def test_the_idle_qr_is_fetched_again_before_it_expires() -> None:
    now = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    board = MeetingBoard(
        uuid.uuid4(),
        "Leaders",
        3,
        9,
        "http://127.0.0.1/checkin?token=t",
        now + timedelta(seconds=60),
        refresh_after_s=30,
    )
    assert board.refresh_in(now) == 30  # the server's rotation comes first
    assert board.refresh_in(now + timedelta(seconds=45)) == 15 - QR_SAFETY_MARGIN_S
    assert board.refresh_in(now + timedelta(seconds=59)) == 0  # nearly expired: at once
