"""What the kiosk core tells a view: plain, frozen, Qt-free event values and a tiny bus.

The recognition and capture threads publish these; a view (the PySide6 window, the
head-less printer, a test) subscribes a callback. Callbacks **may fire on any thread**:
a Qt view must hop to its main thread itself (e.g. superqt's ``ensure_main_thread``),
and must return quickly, because the pipeline waits for every callback.

Event kinds, by when they come:

- per processed frame: ``FrameAnalysed`` (face boxes and at most one ``Guidance``);
- per decision: ``CheckedIn``, ``AlreadyCheckedIn``, ``PendingReview``, ``NotRecognised``
  (with the try count) and, after the last try, ``Fallback``; ``NobodyExpected`` when
  the meeting expects nobody (face check-in is off, staff check people in);
- badge + face: ``BadgeRead`` then a decision, or ``BadgeRefused``;
- liveness: ``LivenessPrompt`` then a decision, or ``LivenessFailed``;
- per source state change: ``SourceStateChanged``.
"""

from __future__ import annotations

import enum
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from kiosk.protocol.liveness import Direction

log = logging.getLogger(__name__)


class Guidance(enum.Enum):
    """Advice for the person in front of the camera, from the engine's quality reasons."""

    MOVE_CLOSER = "move_closer"
    HOLD_STILL = "hold_still"
    TOO_DARK = "too_dark"
    TOO_BRIGHT = "too_bright"
    ONE_AT_A_TIME = "one_at_a_time"
    LOOK_AT_CAMERA = "look_at_camera"
    FACE_NOT_CLEAR = "face_not_clear"
    INTO_VIEW = "into_view"

    @property
    def text(self) -> str:
        return _GUIDANCE_TEXT[self]


_GUIDANCE_TEXT = {
    Guidance.MOVE_CLOSER: "Please move closer",
    Guidance.HOLD_STILL: "Hold still",
    Guidance.TOO_DARK: "Too dark: please face the light",
    Guidance.TOO_BRIGHT: "Too bright: please step out of the glare",
    Guidance.ONE_AT_A_TIME: "One person at a time, please",
    Guidance.LOOK_AT_CAMERA: "Please look at the camera",
    Guidance.FACE_NOT_CLEAR: "Please uncover your face and look at the camera",
    Guidance.INTO_VIEW: "Please step into the middle of the picture",
}


class SourceState(enum.Enum):
    """Life of a frame source: it never blocks its caller, it reports this instead."""

    STARTING = "starting"
    LIVE = "live"
    LOST = "lost"  # the device stopped giving frames (unplugged, failed)
    REOPENING = "reopening"  # waiting out the back-off before opening again
    ABSENT = "absent"  # a camera not on this computer after a few tries: still looked for
    STOPPED = "stopped"  # stopped on request, or a file/folder source reached its end


@dataclass(frozen=True)
class FaceBox:
    """One tracked face in frame pixels; ``track_id`` stays the same while it is followed."""

    track_id: int
    bbox: tuple[float, float, float, float]  # x1, y1, x2, y2
    stable: bool  # single, still and good long enough to be recognised
    recognised: bool  # a decision has been made for this face


@dataclass(frozen=True)
class FrameAnalysed:
    """The result of one processed frame: boxes to draw and the advice to show, if any."""

    frame_seq: int
    frame_size: tuple[int, int]  # width, height
    faces: tuple[FaceBox, ...]
    guidance: Guidance | None
    captured_at: float  # time.monotonic() of capture
    processed_at: float


@dataclass(frozen=True)
class CheckedIn:
    """Shown only after the check-in was committed to the local store."""

    member_id: uuid.UUID
    name: str
    at: datetime
    late: bool
    method: str  # "face" or "badge_face"
    similarity: float
    key: str


@dataclass(frozen=True)
class AlreadyCheckedIn:
    member_id: uuid.UUID
    name: str
    first_at: datetime


@dataclass(frozen=True)
class PendingReview:
    """Recorded as pending_review (evidence crop kept): "an admin will confirm"."""

    member_id: uuid.UUID
    name: str
    at: datetime
    key: str


@dataclass(frozen=True)
class NotRecognised:
    """A friendly retry; after ``max_tries`` a ``Fallback`` follows."""

    tries: int
    max_tries: int


@dataclass(frozen=True)
class Fallback:
    """Face check-in gave up for this person: show a badge, or ask a staff member."""

    tries: int
    badge_possible: bool


@dataclass(frozen=True)
class NobodyExpected:
    """The meeting expects nobody, so the camera checks no one in: staff do, by hand."""


@dataclass(frozen=True)
class BadgeRead:
    """A genuine, unrevoked badge was seen: the next face is matched to this member only."""

    member_id: uuid.UUID
    name: str


@dataclass(frozen=True)
class BadgeRefused:
    reason: str


@dataclass(frozen=True)
class LivenessPrompt:
    direction: Direction

    @property
    def text(self) -> str:
        return f"Turn your head slightly to your {self.direction.value}"


@dataclass(frozen=True)
class LivenessFailed:
    reason: str


@dataclass(frozen=True)
class SourceStateChanged:
    state: SourceState
    detail: str = ""


KioskEvent = (
    FrameAnalysed
    | CheckedIn
    | AlreadyCheckedIn
    | PendingReview
    | NotRecognised
    | Fallback
    | NobodyExpected
    | BadgeRead
    | BadgeRefused
    | LivenessPrompt
    | LivenessFailed
    | SourceStateChanged
)
Subscriber = Callable[[KioskEvent], None]


class EventBus:
    """Fan-out of events to subscribers; a failing subscriber is logged, never fatal."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: tuple[Subscriber, ...] = ()

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Add ``callback``; the returned function removes it again."""
        with self._lock:
            self._subscribers = (*self._subscribers, callback)

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = tuple(s for s in self._subscribers if s is not callback)

        return unsubscribe

    def publish(self, event: KioskEvent) -> None:
        for callback in self._subscribers:
            try:
                callback(event)
            except Exception:
                log.exception("event subscriber %r failed on %s", callback, type(event).__name__)
