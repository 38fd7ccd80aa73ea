"""Where the faces are in a frame, found cheaply: around the followed faces, full frame rarely.

buffalo_l's detector costs ~130 ms of a core on the full frame at 320, so detecting every
frame in full leaves the box on screen moving 5-7 times a second. A face being followed
moves little between two frames, so it is looked for only in a square crop a little
larger than its last box, scaled as the full-frame detection would scale it and with its
edges on the full detection's anchor grid (so boxes and keypoints come out within a pixel
of the full detection's): a quarter to a third of the full cost. The full frame is
searched only to find new faces (once a second while someone is followed), when a
followed face is lost in its crop, and, with nobody in view, only when the motion gate
sees a change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from kiosk.capture.motion import MotionGate
from kiosk.inference import BGRImage, DetectedFace, FaceEngine
from kiosk.recognition.tracker import Box, Track, iou

# Crop side = this x the longer side of the last box (SCRFD's boxes are taller than wide,
# so the sides get more room): a face at the kiosk moving at walking pace at 15
# detections/s stays inside it. Measured on the test photos: at 60 px between the eyes
# the crop runs at 160-192 instead of 320, a quarter to a third of the pixels.
CROP_MARGIN = 1.3
SIZE_STEP = 32  # SCRFD's input must be a multiple of its largest stride
MIN_CROP_DET = 96
# While someone is followed, the full frame is searched this often for new faces.
FULL_EVERY_S = 1.0
# Two crops that overlap may both find the same face: keep the better of such a pair.
DUPLICATE_IOU = 0.5


def detection_sizes(det_size: int) -> tuple[int, ...]:
    """Every input size the kiosk detects at: the live size, then each crop size below it.

    The detector's first run at an input size is its slowest (onnxruntime plans memory
    for the new shape; stock SCRFD even built a session per size, which stalled the window
    for 200 ms the first time a face came closer), so the kiosk runs each when it loads.
    """
    # A crop is at least MIN_CROP_DET, but one cut by the frame's edge can be as small as
    # one grid step.
    return (det_size, *range(SIZE_STEP, det_size, SIZE_STEP))


class Search(Enum):
    """How a frame was searched."""

    FULL = "full"  # the whole frame at the live size
    CROPS = "crops"  # only around the followed faces
    SKIPPED = "skipped"  # nobody in view and nothing moved: not searched


@dataclass
class FinderStats:
    full: int = 0
    crops: int = 0  # crop detections (one per followed face)
    skipped: int = 0
    lost: int = 0  # frames where a followed face was missing from its crop


@dataclass
class FaceFinder:
    """Detects faces in each frame of the live loop, as cheaply as the scene allows."""

    engine: FaceEngine
    det_size: int
    full_every_s: float = FULL_EVERY_S
    motion: MotionGate = field(default_factory=MotionGate)
    stats: FinderStats = field(default_factory=FinderStats)
    _full_at: float = float("-inf")

    def find(
        self, image: BGRImage, followed: list[Track], now: float
    ) -> tuple[list[DetectedFace], Search]:
        """This frame's faces, given the tracks seen on the previous processed frame."""
        if not followed:
            if not self.motion.should_look(image, now):
                self.stats.skipped += 1
                return [], Search.SKIPPED
            return self._full(image, now), Search.FULL
        if now - self._full_at >= self.full_every_s:
            return self._full(image, now), Search.FULL
        found: list[DetectedFace] = []
        for track in followed:
            faces = self._around(image, track.face.bbox)
            if faces is None or not faces:
                if faces is not None:
                    self.stats.lost += 1
                return self._full(image, now), Search.FULL
            found += faces
        return _without_duplicates(found), Search.CROPS

    def _full(self, image: BGRImage, now: float) -> list[DetectedFace]:
        self.stats.full += 1
        self._full_at = now
        self.motion.looked(image, now)
        return self.engine.detect(image, det_size=self.det_size)

    def _around(self, image: BGRImage, box: Box) -> list[DetectedFace] | None:
        """Faces in a crop around ``box`` (frame coordinates); None: crop not worth it."""
        height, width = image.shape[:2]
        scale = self.det_size / max(height, width)  # what the full detection scales by
        side = CROP_MARGIN * max(box[2] - box[0], box[3] - box[1])
        size = max(MIN_CROP_DET, math.ceil(side * scale / SIZE_STEP) * SIZE_STEP)
        if size >= self.det_size:
            return None  # the face fills the frame: the full frame costs the same
        # Crop edges on the full detection's coarsest anchor grid, so the crop's pixels
        # and anchors are the full frame's own (same boxes and keypoints, not a re-sample).
        grid = SIZE_STEP / scale
        half = size / scale / 2
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        x0 = max(0, int(math.floor((cx - half) / grid) * grid))
        y0 = max(0, int(math.floor((cy - half) / grid) * grid))
        x1 = min(width, int(math.ceil((cx + half) / grid) * grid))
        y1 = min(height, int(math.ceil((cy + half) / grid) * grid))
        if x1 - x0 < grid or y1 - y0 < grid:
            return []  # the box has left the frame
        size = math.ceil(max(x1 - x0, y1 - y0) * scale / SIZE_STEP) * SIZE_STEP
        if size >= self.det_size:
            return None
        self.stats.crops += 1
        crop = image[y0:y1, x0:x1]
        faces = self.engine.detect(crop, det_size=size)
        return [_shifted(face, x0, y0) for face in faces]

    def reset(self) -> None:
        self._full_at = float("-inf")
        self.motion.reset()


def _shifted(face: DetectedFace, dx: int, dy: int) -> DetectedFace:
    """``face`` found in a crop whose top-left corner is at (dx, dy) of the frame."""
    x1, y1, x2, y2 = face.bbox
    offset = np.array([dx, dy], np.float32)
    return DetectedFace(
        (x1 + dx, y1 + dy, x2 + dx, y2 + dy),
        face.score,
        (face.keypoints + offset).astype(np.float32),
        None if face.landmarks is None else (face.landmarks + offset).astype(np.float32),
    )


def _without_duplicates(faces: list[DetectedFace]) -> list[DetectedFace]:
    kept: list[DetectedFace] = []
    for face in sorted(faces, key=lambda f: f.score, reverse=True):
        if all(iou(face.bbox, other.bbox) < DUPLICATE_IOU for other in kept):
            kept.append(face)
    return kept
