"""The recognition thread: newest frame -> detect -> track -> (once) recognise -> decide.

Only the newest frame is ever processed (the one-slot mailbox drops the rest), so a
slow step never builds a queue. The ``FaceFinder`` detects around the followed faces and
searches the full frame at the live size only for new faces (and, with nobody in view,
only when something moved). A face is matched only once it has been the single face at
the kiosk, held still and passing the check-in quality gates for ``dwell_s``, and then
never again while it stays in view; its embedding is started on another thread as soon
as it passes the gates in its current rest, so it is ready when the dwell ends. The
public surface is small on purpose (the window and the head-less runner are thin views
over it): ``start``, ``stop``, ``run_once``, ``events`` and ``stats``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kiosk.capture.frames import Frame, LatestFrame
from kiosk.events import (
    BadgeRead,
    EventBus,
    FaceBox,
    Fallback,
    FrameAnalysed,
    Guidance,
    KioskEvent,
    LivenessFailed,
    LivenessPrompt,
    NobodyExpected,
)
from kiosk.inference import (
    LIVE_DET_SIZE,
    Band,
    BGRImage,
    Embedding,
    FaceEngine,
    Issue,
    Purpose,
    assess,
    measure,
)
from kiosk.inference import QUALITY_THRESHOLDS as THRESHOLDS
from kiosk.protocol.liveness import HeadTurnChallenge, Verdict
from kiosk.recognition.badge_scan import BadgeCheck, BadgeScanner
from kiosk.recognition.decisions import Decider, FaceMatch
from kiosk.recognition.finder import FaceFinder, Search
from kiosk.recognition.speculation import Key, SpeculativeEmbedder
from kiosk.recognition.tracker import IouTracker, Track

log = logging.getLogger(__name__)

_GUIDANCE = {
    Issue.TOO_SMALL: Guidance.MOVE_CLOSER,
    Issue.TOO_BLURRY: Guidance.HOLD_STILL,
    Issue.TOO_DARK: Guidance.TOO_DARK,
    Issue.TOO_BRIGHT: Guidance.TOO_BRIGHT,
    Issue.HEAD_TURNED: Guidance.LOOK_AT_CAMERA,
    Issue.HEAD_TILTED: Guidance.LOOK_AT_CAMERA,
    Issue.LOW_SCORE: Guidance.FACE_NOT_CLEAR,
    Issue.CUT_OFF: Guidance.INTO_VIEW,
}
# Faces this small are people further back, not someone at the kiosk.
_AT_KIOSK_EYE_PX = THRESHOLDS[Purpose.CHECKIN].min_inter_eye_px


@dataclass(frozen=True)
class PipelineConfig:
    det_size: int = LIVE_DET_SIZE
    dwell_s: float = 0.3  # single, still and good this long before recognising
    retry_after_s: float = 1.5  # a face not recognised is tried again after this
    idle_reset_s: float = 10.0  # nobody in view this long: the try count starts anew
    badge_valid_s: float = 15.0  # a read badge waits this long for its holder's face
    # Look for a badge QR on every n-th frame searched for faces. A still scene (the
    # motion gate skipped it) is not scanned: a badge held up moves, and one held still
    # is read at the gate's look anyway. Idle, the scans were a tenth of the kiosk's CPU.
    qr_every: int = 2


@dataclass
class PipelineStats:
    """Counters for status screens and the benchmark (written by the recognition thread)."""

    frames: int = 0
    detections: int = 0  # faces found (each is a box update on screen)
    recognitions: int = 0
    speculated: int = 0  # recognitions whose embedding was ready (or running) in advance
    # Seconds from capture of the frame where a face became stable to its commit.
    commit_latencies: list[float] = field(default_factory=list)
    badge_scans: int = 0  # frames scanned for a badge QR
    # CPU seconds of the recognition thread: in all frames, and in each committing frame
    # (with one intra-op thread, inference runs on this thread, so on a busy shared
    # machine these show what an idle core would take).
    cpu_s: float = 0.0
    commit_cpu: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class _Match:
    """A face matched and ready to commit (after its liveness challenge, if any)."""

    match: FaceMatch
    probe: Embedding
    crop: BGRImage
    stable_at: float  # capture time of the frame where the face became stable


@dataclass
class _Pending:
    track_id: int
    found: _Match
    challenge: HeadTurnChallenge


def _key(track: Track) -> Key:
    """What a speculative embedding is made for: this track, in this epoch and rest."""
    return (track.track_id, track.epoch, track.still_since)


class Pipeline:
    """Runs on its own thread; every decision is published on ``events``."""

    def __init__(
        self,
        engine: FaceEngine,
        frames: LatestFrame,
        decider: Decider,
        *,
        events: EventBus | None = None,
        config: PipelineConfig | None = None,
        badge_check: BadgeCheck | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.frames = frames
        self.decider = decider
        self.events = events or EventBus()
        self.config = config or PipelineConfig()
        self.stats = PipelineStats()
        self._badges = (
            BadgeScanner(badge_check, decider.name_of, self.config.badge_valid_s)
            if badge_check is not None
            else None
        )
        self._rng = rng or random.SystemRandom()  # liveness directions: not guessable
        self._tracker = IouTracker()
        self.finder = FaceFinder(engine, self.config.det_size)
        self._followed: list[Track] = []  # the tracks seen on the previous processed frame
        self._speculation = SpeculativeEmbedder(lambda crop: engine.recognizer.embed([crop])[0])
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending: _Pending | None = None
        self._last_face_at = 0.0
        self._processed = threading.Condition()
        self._processed_seq = 0
        self._cpu_start = 0.0
        self._since_badge_scan = self.config.qr_every  # the first frame looked at is scanned

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._speculation.reopen()
            self._thread = threading.Thread(target=self._run, name="recognition", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Finish the frame in hand, then return (cooperative: no thread is killed)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._speculation.close(timeout)

    def _run(self) -> None:
        seen = 0
        while not self._stop.is_set():
            frame = self.frames.get(after=seen, timeout=0.2)
            if frame is None:
                continue
            seen = frame.seq
            try:
                self.run_once(frame)
            except Exception:
                log.exception("frame %d could not be processed", frame.seq)
            with self._processed:
                self._processed_seq = seen
                self._processed.notify_all()

    def wait_drained(self, ended: Callable[[], bool], timeout: float | None = None) -> bool:
        """Wait until ``ended()`` holds and the newest frame has been processed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._processed:
            while not (ended() and self._processed_seq >= self.frames.seq):
                left = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
                if left <= 0:
                    return False
                self._processed.wait(left)  # the source's end is polled, not notified
        return True

    def run_once(self, frame: Frame) -> list[KioskEvent]:
        """Process one frame (time = its capture time); publish and return its events."""
        now = frame.captured_at
        self._cpu_start = time.thread_time()
        out: list[KioskEvent] = []
        faces, search = self.finder.find(frame.image, self._followed, now)
        self.stats.frames += 1
        self.stats.detections += len(faces)
        tracks = self._tracker.update(faces, now)
        self._followed = tracks
        if self._badges is not None and self._badge_scan_due(search):
            out += self._scan_badge(frame.image, now)
        guidance = self._step(frame, tracks, now, out)
        boxes = tuple(
            FaceBox(t.track_id, t.face.bbox, self._stable(t, now), t.decided) for t in tracks
        )
        out.insert(0, FrameAnalysed(frame.seq, frame.size, boxes, guidance, now, time.monotonic()))
        for event in out:
            self.events.publish(event)
        self.stats.cpu_s += time.thread_time() - self._cpu_start
        return out

    def _stable(self, track: Track, now: float) -> bool:
        return track.still_for(now) >= self.config.dwell_s

    def _badge_scan_due(self, search: Search) -> bool:
        """Every ``qr_every``-th frame looked at; the first one after a still stretch."""
        if search is Search.SKIPPED:
            self._since_badge_scan = self.config.qr_every
            return False
        self._since_badge_scan += 1
        if self._since_badge_scan < self.config.qr_every:
            return False
        self._since_badge_scan = 0
        self.stats.badge_scans += 1
        return True

    def _step(
        self, frame: Frame, tracks: list[Track], now: float, out: list[KioskEvent]
    ) -> Guidance | None:
        """Guidance for this frame, and a decision when the single face is ready."""
        near = [t for t in tracks if t.face.inter_eye_distance >= _AT_KIOSK_EYE_PX]
        if not near:
            if not tracks and now - self._last_face_at > self.config.idle_reset_s:
                self.decider.reset_tries()
            return Guidance.MOVE_CLOSER if tracks else None
        self._last_face_at = now
        if len(near) > 1:
            return Guidance.ONE_AT_A_TIME
        if self._pending is not None:
            self._continue_challenge(near[0], now, out)
            return None
        if near[0].decided:
            return None  # done with this face while it stays (a new badge clears this)
        return self._single(near[0], frame, now, out)

    def _single(
        self, track: Track, frame: Frame, now: float, out: list[KioskEvent]
    ) -> Guidance | None:
        """The one face at the kiosk: its guidance, or its recognition once it is ready."""
        crop = self.engine.recognizer.align(frame.image, track.face)
        picture = (frame.image.shape[0], frame.image.shape[1])
        report = assess(measure(track.face, crop, picture=picture), Purpose.CHECKIN)
        if not report.passed:
            track.still_since = now  # "good for a short moment" starts again
            return _GUIDANCE[report.issues[0]]
        if now + self.config.dwell_s >= track.next_try_at:  # a try is due by the dwell's end
            self._speculation.offer(_key(track), crop)
        if now >= track.next_try_at and self._stable(track, now):
            self._recognise(track, frame, crop, now, out)
        return None

    def _recognise(
        self, track: Track, frame: Frame, crop: BGRImage, now: float, out: list[KioskEvent]
    ) -> None:
        ahead = self._speculation.take(_key(track))  # made for this face in this rest, or None
        if ahead is not None:
            self.stats.speculated += 1
            vector, crop = ahead.vector, ahead.crop
        else:
            vector = self.engine.recognizer.embed([crop])[0]
        probe = Embedding(vector, self.engine.model_id)
        badge = self._badges.current(now) if self._badges else None
        match = self.decider.match(probe, only=badge.claims.member_id if badge else None)
        self.stats.recognitions += 1
        stable_at = frame.captured_at
        if match.band is Band.REJECT:
            track.next_try_at = now + self.config.retry_after_s
            verdict = self.decider.not_recognised(badge_possible=self._badges is not None)
            # After the fallback this face is left alone until it leaves or shows a badge.
            track.decided = isinstance(verdict, Fallback | NobodyExpected)
            out.append(verdict)
            return
        found = _Match(match, probe, crop, stable_at)
        if self.decider.meeting.liveness.required_for(match.band):
            challenge = HeadTurnChallenge.start(now, self._rng)
            challenge.observe(track.face.keypoints, now)
            self._pending = _Pending(track.track_id, found, challenge)
            out.append(LivenessPrompt(challenge.direction))
            return
        self._commit(track, found, now, out)

    def _continue_challenge(self, track: Track, now: float, out: list[KioskEvent]) -> None:
        pending = self._pending
        assert pending is not None
        if track.track_id != pending.track_id:
            verdict = Verdict.FAILED
            pending.challenge.reason = "A different face came into view. Please try again."
        else:
            verdict = pending.challenge.observe(track.face.keypoints, now)
        if verdict is Verdict.PENDING:
            return
        self._pending = None
        if verdict is Verdict.PASSED:
            self._commit(track, pending.found, now, out)
            return
        track.next_try_at = now + self.config.retry_after_s
        track.still_since = now
        out.append(LivenessFailed(pending.challenge.reason))
        out.append(self.decider.not_recognised(badge_possible=self._badges is not None))

    def _commit(self, track: Track, found: _Match, now: float, out: list[KioskEvent]) -> None:
        badge = self._badges.current(now) if self._badges else None
        track.next_try_at = now + self.config.retry_after_s  # if the store fails: not every frame
        event = self.decider.commit(
            found.match,
            found.probe,
            found.crop,
            method="badge_face" if badge else "face",
            badge=badge.token if badge else None,
        )
        self.stats.commit_latencies.append(time.monotonic() - found.stable_at)
        self.stats.commit_cpu.append(time.thread_time() - self._cpu_start)
        out.append(event)
        track.decided = True
        if self._badges is not None:
            self._badges.used()

    def _scan_badge(self, image: BGRImage, now: float) -> list[KioskEvent]:
        """A newly shown badge; a genuine one makes the face in view be tried again, 1:1."""
        assert self._badges is not None
        event = self._badges.scan(image, now)
        if isinstance(event, BadgeRead):
            for track in self._tracker.tracks:
                track.decided = False  # the holder may already be standing there
        return [event] if event is not None else []

    def reset(self) -> None:
        """Forget faces, badge and challenge (e.g. when the meeting changes)."""
        self._tracker.reset()
        self._followed = []
        self.finder.reset()
        self._speculation.forget()
        if self._badges is not None:
            self._badges.used()
        self._pending = None
        self.decider.reset_tries()
