"""Following faces from one detection to the next by box overlap (IoU).

The pipeline recognises a face once, when it has been single, still and good for a
short moment; the tracker is what makes "the same face" mean something across frames.
Detection runs at 15-30 Hz, so a face moves little between two detections and greedy
matching by intersection-over-union is enough (no motion model, no appearance).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from kiosk.inference import DetectedFace

Box = tuple[float, float, float, float]

# Same face between two detections: boxes overlap at least this much.
MATCH_IOU = 0.3
# Held still: the face stays within this fraction of its eye distance of where it was
# when it stopped, and its size within STILL_SCALE. Keypoints of a face standing still
# jitter by a few pixels (under 0.1 of a 60 px eye distance); walking up moves far more,
# and measuring from an anchor (not frame to frame) also catches a slow drift.
STILL_SHIFT = 0.25
STILL_SCALE = 0.15
# A face unseen this long has left (a few missed detections are forgiven).
MAX_GAP_S = 0.7
# A face back in the same place after missing from processed frames for this long may
# be someone else who stepped in (a queue moves up): its decision is forgotten, so it
# is recognised afresh. Shorter gaps are a detector missing a frame or two of the same
# face; a face seen on the previous processed frame is never "back", however slow the
# frames come.
REACQUIRE_GAP_S = 0.3
KEYPOINT_HISTORY = 60


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes; 0 when they do not touch."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    """One face followed over frames; the pipeline notes its decisions on it."""

    track_id: int
    face: DetectedFace
    first_seen: float
    last_seen: float
    still_since: float
    anchor: DetectedFace  # where the face was when it last came to rest
    hits: int = 1
    # (time, keypoints) of recent detections, for the liveness challenge.
    keypoints: deque[tuple[float, NDArray[np.float32]]] = field(
        default_factory=lambda: deque(maxlen=KEYPOINT_HISTORY)
    )
    decided: bool = False  # a decision (check-in, review, already) was made for this face
    next_try_at: float = 0.0  # after a "not recognised", when to try again
    # Bumped when the face is back after a gap (maybe someone else): work done for an
    # earlier epoch, such as a speculative embedding, is never used for this one.
    epoch: int = 0

    def still_for(self, now: float) -> float:
        return now - self.still_since


class IouTracker:
    """Greedy IoU matching of each frame's detections to the live tracks."""

    def __init__(
        self,
        *,
        match_iou: float = MATCH_IOU,
        still_shift: float = STILL_SHIFT,
        max_gap_s: float = MAX_GAP_S,
    ) -> None:
        self.match_iou = match_iou
        self.still_shift = still_shift
        self.max_gap_s = max_gap_s
        self._tracks: dict[int, Track] = {}
        self._next_id = 1
        self._previous_update = float("-inf")

    @property
    def tracks(self) -> list[Track]:
        """Every live track, including ones not seen in the latest frame."""
        return list(self._tracks.values())

    def update(self, faces: list[DetectedFace], now: float) -> list[Track]:
        """Match ``faces`` (one frame's detections) and return their tracks, in that order."""
        pairs = sorted(
            (
                (iou(track.face.bbox, face.bbox), track_id, index)
                for track_id, track in self._tracks.items()
                for index, face in enumerate(faces)
            ),
            reverse=True,
        )
        assigned: dict[int, Track] = {}
        used: set[int] = set()
        for overlap, track_id, index in pairs:
            if overlap < self.match_iou:
                break
            if track_id in used or index in assigned:
                continue
            used.add(track_id)
            assigned[index] = self._follow(self._tracks[track_id], faces[index], now)
        for index, face in enumerate(faces):
            if index not in assigned:
                assigned[index] = self._start(face, now)
        self._forget_gone(now)
        self._previous_update = now
        return [assigned[index] for index in range(len(faces))]

    def _follow(self, track: Track, face: DetectedFace, now: float) -> Track:
        missed = track.last_seen < self._previous_update
        if missed and now - track.last_seen > REACQUIRE_GAP_S:
            track.decided = False
            track.next_try_at = 0.0
            track.epoch += 1
            track.still_since = now
            track.anchor = face
        elif not self._near(track.anchor, face):
            track.still_since = now
            track.anchor = face
        track.face = face
        track.last_seen = now
        track.hits += 1
        track.keypoints.append((now, face.keypoints))
        return track

    def _near(self, anchor: DetectedFace, face: DetectedFace) -> bool:
        """Whether ``face`` is still where ``anchor`` came to rest (position and size)."""
        size = anchor.inter_eye_distance
        if size <= 0:
            return False
        shift = float(np.linalg.norm(face.keypoints[:2].mean(0) - anchor.keypoints[:2].mean(0)))
        scale = abs(face.inter_eye_distance / size - 1.0)
        return shift <= self.still_shift * size and scale <= STILL_SCALE

    def _start(self, face: DetectedFace, now: float) -> Track:
        track = Track(self._next_id, face, now, now, now, face)
        track.keypoints.append((now, face.keypoints))
        self._tracks[track.track_id] = track
        self._next_id += 1
        return track

    def _forget_gone(self, now: float) -> None:
        for track_id in [
            t for t, tr in self._tracks.items() if now - tr.last_seen > self.max_gap_s
        ]:
            del self._tracks[track_id]

    def reset(self) -> None:
        self._tracks.clear()
