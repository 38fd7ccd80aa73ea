"""Which screen the kiosk shows, and what it says: a Qt-free model the window is a view of.

The core's events (``kiosk.events``) come in with the time they arrived; the flow answers
what the person in front of the kiosk should see: the live preview (with a prompt or
guidance), a message (confirmation, retry, fallback) for a few seconds, or the idle
screen when nobody has been in front of the camera for a while. Keeping this out of the
widgets lets it be tested without Qt and keeps the widgets plain views.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from kiosk.events import (
    AlreadyCheckedIn,
    BadgeRead,
    BadgeRefused,
    CheckedIn,
    Fallback,
    FrameAnalysed,
    KioskEvent,
    LivenessFailed,
    LivenessPrompt,
    NobodyExpected,
    NotRecognised,
    PendingReview,
)


class Screen(enum.Enum):
    LIVE = "live"
    MESSAGE = "message"
    IDLE = "idle"


class Tone(enum.Enum):
    """The colour of a message: a volunteer tells them apart from across the room."""

    SUCCESS = "success"
    INFO = "info"
    WARNING = "warning"
    FAILURE = "failure"


class Sound(enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"


@dataclass(frozen=True)
class Message:
    """A full-screen message: a large headline, a line or two of detail, an optional sound."""

    tone: Tone
    headline: str
    detail: str
    sound: Sound | None = None


@dataclass(frozen=True)
class FlowTiming:
    """How long things stay up, in seconds (shorter in tests and benchmarks)."""

    message: float = 4.0  # a confirmation or retry message
    prompt: float = 8.0  # a badge or liveness prompt over the preview
    idle_after: float = 20.0  # no face this long: the idle screen


def clock_text(at: datetime) -> str:
    """A moment as the local wall-clock time people read (events carry aware UTC)."""
    return at.astimezone().strftime("%H:%M")


def message_for(event: KioskEvent) -> Message | None:  # noqa: PLR0911 (one per event kind)
    """The message a decision event shows, or None for events that show none."""
    match event:
        case CheckedIn(name=name, at=at, late=late):
            detail = f"Checked in at {clock_text(at)}" + (" \N{EM DASH} late" if late else "")
            return Message(Tone.SUCCESS, f"Welcome, {name}", detail, Sound.SUCCESS)
        case AlreadyCheckedIn(name=name, first_at=first_at):
            return Message(
                Tone.INFO,
                f"{name}, you are already checked in",
                f"Since {clock_text(first_at)}. Nothing more to do.",
                Sound.SUCCESS,
            )
        case PendingReview(name=name, at=at):
            return Message(
                Tone.INFO,
                f"Thank you, {name}",
                f"Recorded at {clock_text(at)}. An admin will confirm it.",
                Sound.SUCCESS,
            )
        case NotRecognised(tries=tries, max_tries=max_tries):
            return Message(
                Tone.WARNING,
                "Sorry, we did not recognise you",
                f"Please look straight at the camera and try again (try {tries} of {max_tries}).",
                Sound.FAILURE,
            )
        case Fallback(badge_possible=badge_possible):
            detail = (
                "Please hold your badge up to the camera, or ask a staff member."
                if badge_possible
                else "Please ask a staff member to check you in."
            )
            return Message(Tone.FAILURE, "Let's check you in another way", detail, Sound.FAILURE)
        case NobodyExpected():
            return Message(
                Tone.INFO,
                "Please ask a staff member to check you in",
                "Check-in by camera is off for this meeting: nobody is on its list of "
                "expected people. Staff check everyone in by hand.",
            )
        case BadgeRefused(reason=reason):
            return Message(
                Tone.WARNING,
                "This badge cannot be used",
                f"{reason} Please ask a staff member.",
                Sound.FAILURE,
            )
        case LivenessFailed(reason=reason):
            return Message(Tone.WARNING, "Please try again", reason, Sound.FAILURE)
    return None


def prompt_for(event: KioskEvent) -> str | None:
    """Text shown over the live preview while the person keeps looking at the camera."""
    match event:
        case BadgeRead(name=name):
            return f"Hello {name}: now look at the camera"
        case LivenessPrompt():
            return event.text
    return None


class ScreenFlow:
    """Turns events and the passing of time into the screen to show (not thread-safe:
    the window calls it on its main thread only)."""

    def __init__(self, timing: FlowTiming | None = None, *, now: float = 0.0) -> None:
        self.timing = timing or FlowTiming()
        self.message: Message | None = None
        self.prompt: str | None = None
        self.analysis: FrameAnalysed | None = None
        self._message_until = 0.0
        self._prompt_until = 0.0
        self._last_face = now

    def on_event(self, event: KioskEvent, now: float) -> Message | None:
        """Take one event; returns the message it brings up, if any (to play its sound)."""
        if isinstance(event, FrameAnalysed):
            self.analysis = event
            if event.faces:
                self._last_face = now
            return None
        self._last_face = now  # a decision means someone is there
        prompt = prompt_for(event)
        if prompt is not None:
            self.prompt, self._prompt_until = prompt, now + self.timing.prompt
            self.message = None
            return None
        message = message_for(event)
        if message is not None:
            self.message, self._message_until = message, now + self.timing.message
            self.prompt = None
        return message

    def screen(self, now: float) -> Screen:
        if self.message is not None and now < self._message_until:
            return Screen.MESSAGE
        self.message = None
        if self.prompt is not None and now >= self._prompt_until:
            self.prompt = None
        if self.prompt is None and now - self._last_face >= self.timing.idle_after:
            return Screen.IDLE
        return Screen.LIVE

    def guidance(self) -> str | None:
        """The prompt if one is up, else the newest frame's advice."""
        if self.prompt is not None:
            return self.prompt
        if self.analysis is not None and self.analysis.guidance is not None:
            return self.analysis.guidance.text
        return None
