"""Who is this, and what happens now: the meeting's gallery, bands, margin, store, retries.

A probe is matched against the active meeting's expected people (the store's
``gallery_for``: everyone the kiosk holds, those the meeting lists, or nobody) or, after
a badge, against that one member. Accept and review both become a check-in, review as
``pending_review`` with its aligned face crop as evidence; a repeat is "already checked
in" because the store says so (never a second record). The event that tells the view
is made only after ``CheckinRecorder.record`` returned, i.e. after the commit.
Unknown faces get a friendly retry; after ``max_tries`` the fallback (badge or staff).
At a meeting that expects nobody no try can succeed: a face gets ``NobodyExpected``
(staff check people in) at once.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import cv2

from kiosk.events import (
    AlreadyCheckedIn,
    CheckedIn,
    Fallback,
    NobodyExpected,
    NotRecognised,
    PendingReview,
)
from kiosk.inference import (
    DEFAULT_THRESHOLDS,
    Band,
    BGRImage,
    Candidate,
    Embedding,
    Gallery,
    MatchDecision,
    Thresholds,
    band_for,
    decide,
    describe,
)
from kiosk.protocol.checkins import CheckinMethod, CheckinRecorder, NewCheckin
from kiosk.protocol.liveness import LivenessPolicy

log = logging.getLogger(__name__)

MAX_TRIES = 3
EVIDENCE_JPEG_QUALITY = 90


@dataclass(frozen=True)
class Meeting:
    """The meeting this kiosk is taking check-ins for, and its liveness policy."""

    meeting_id: uuid.UUID
    title: str
    late_after: datetime | None = None
    liveness: LivenessPolicy = LivenessPolicy.NEVER


class Roster(Protocol):
    """What decisions need from the local store (``LocalStore`` is one): the meeting's
    gallery, whether it expects nobody, a number that changes whenever a sync changed
    either, and people's names."""

    def gallery_for(self, meeting_id: uuid.UUID) -> Gallery: ...

    def expects_nobody(self, meeting_id: uuid.UUID) -> bool: ...

    def gallery_generation(self) -> int: ...

    def member_name(self, member_id: uuid.UUID) -> str | None: ...


@dataclass(frozen=True)
class FaceMatch:
    """A probe's decision, with the member ids it concerns."""

    decision: MatchDecision
    member_id: uuid.UUID | None
    second_member_id: uuid.UUID | None

    @property
    def band(self) -> Band:
        return self.decision.band


Outcome = CheckedIn | AlreadyCheckedIn | PendingReview


@dataclass(frozen=True)
class _Roll:
    """The meeting's gallery as of one store generation."""

    generation: int
    gallery: Gallery
    people: int
    nobody: bool


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Decider:
    """Matches probes and turns decisions into durable check-ins and view events."""

    def __init__(
        self,
        roster: Roster,
        recorder: CheckinRecorder,
        meeting: Meeting,
        *,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        max_tries: int = MAX_TRIES,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.roster = roster
        self.recorder = recorder
        self.meeting = meeting
        self.thresholds = thresholds
        self.max_tries = max_tries
        self._clock = clock
        self._tries = 0
        self._lock = threading.Lock()
        self._gallery: _Roll | None = None

    def _roll(self) -> _Roll:
        """The meeting's gallery, rebuilt only after a sync changed the store."""
        generation = self.roster.gallery_generation()
        if self._gallery is None or self._gallery.generation != generation:
            meeting_id = self.meeting.meeting_id
            gallery = self.roster.gallery_for(meeting_id)
            nobody = self.roster.expects_nobody(meeting_id)
            self._gallery = _Roll(generation, gallery, len(gallery.person_ids), nobody)
        return self._gallery

    def gallery(self) -> tuple[Gallery, int]:
        """The meeting's gallery and its number of people."""
        roll = self._roll()
        return roll.gallery, roll.people

    def expects_nobody(self) -> bool:
        """The meeting expects nobody: face check-in is off, staff check people in."""
        return self._roll().nobody

    def name_of(self, member_id: uuid.UUID) -> str:
        return self.roster.member_name(member_id) or "Member"

    def match(self, probe: Embedding, only: uuid.UUID | None = None) -> FaceMatch:
        """1:N against the meeting's gallery, or 1:1 against ``only`` (a badge's member).

        ``thresholds`` should be the pack's (``FaceEngine.thresholds``).
        """
        gallery, people = self.gallery()
        if only is None:
            candidates = gallery.search(probe, k=2)
            # Searching more people raises the accept line (the pack's measurement).
            decision = decide(candidates, self.thresholds, people=people)
            used, searched = self.thresholds.for_gallery(people), f"1:N among {people}"
        else:
            candidates = gallery.search(probe, k=1, among={str(only)})
            decision = _one_to_one(candidates, self.thresholds)
            used, searched = self.thresholds, "1:1 (badge)"
        log.info(describe(decision, searched, used))
        best = decision.best
        second = candidates[1].person_id if len(candidates) > 1 else None
        return FaceMatch(
            decision,
            uuid.UUID(best.person_id) if best and decision.band is not Band.REJECT else None,
            uuid.UUID(second) if second else None,
        )

    def commit(
        self,
        match: FaceMatch,
        probe: Embedding,
        crop: BGRImage,
        *,
        method: CheckinMethod = "face",
        badge: str | None = None,
    ) -> Outcome:
        """Record an accept or review match, then say what the view should show."""
        best = match.decision.best
        if match.member_id is None or best is None:
            raise ValueError("only an accept or review match can be committed")
        review = match.band is Band.REVIEW
        checkin = NewCheckin(
            meeting_id=self.meeting.meeting_id,
            member_id=match.member_id,
            method=method,
            status="pending_review" if review else "approved",
            similarity=best.similarity,
            margin=match.decision.margin,
            second_member_id=match.second_member_id,
            device_time=self._clock(),
            model_id=probe.model_id,
            probe=probe.vector,
            badge=badge,
            evidence_jpeg=evidence_jpeg(crop) if review else None,
            face_jpeg=evidence_jpeg(crop),
        )
        outcome = self.recorder.record(checkin)  # committed before anyone is told
        with self._lock:
            self._tries = 0
        name = self.name_of(match.member_id)
        if outcome.kind == "already_checked_in":
            return AlreadyCheckedIn(match.member_id, name, outcome.recorded_at)
        if review:
            return PendingReview(match.member_id, name, checkin.device_time, outcome.key)
        late = self.meeting.late_after is not None and checkin.device_time > self.meeting.late_after
        return CheckedIn(
            match.member_id, name, checkin.device_time, late, method, best.similarity, outcome.key
        )

    def not_recognised(
        self, *, badge_possible: bool = True
    ) -> NotRecognised | Fallback | NobodyExpected:
        """Count a failed try: a retry message, or the fallback after the last try; at a
        meeting that expects nobody, no try can succeed: say so at once."""
        if self.expects_nobody():
            return NobodyExpected()
        with self._lock:
            self._tries += 1
            tries = self._tries
            if tries >= self.max_tries:
                self._tries = 0
        if tries >= self.max_tries:
            return Fallback(tries, badge_possible)
        return NotRecognised(tries, self.max_tries)

    def reset_tries(self) -> None:
        """Nobody has been in front of the camera for a while: the next person starts anew."""
        with self._lock:
            self._tries = 0


def _one_to_one(candidates: list[Candidate], thresholds: Thresholds) -> MatchDecision:
    if not candidates:
        return MatchDecision(Band.REJECT, None, None, "the badge holder has no enrolled face")
    band = band_for(candidates[0].similarity, thresholds)
    return MatchDecision(band, candidates[0], None, f"1:1 with the badge holder: {band.value}")


def evidence_jpeg(crop: BGRImage) -> bytes:
    """The aligned face crop as JPEG, kept with a review-band check-in for the admin."""
    ok, encoded = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, EVIDENCE_JPEG_QUALITY])
    if not ok:
        raise ValueError("the face crop could not be encoded as JPEG")
    return bytes(encoded.tobytes())
