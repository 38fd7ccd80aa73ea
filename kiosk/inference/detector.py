"""Face detection with an SCRFD model on an injected onnxruntime session.

The steps are InsightFace's ``model_zoo.scrfd.SCRFD`` (letterbox into a square, one ONNX
run, decode boxes and five keypoints from the anchor centres of each stride, NMS), written
out here so that nothing imports the ``insightface`` package at run time: its package
imports scikit-image, SciPy and onnx, about 65 MB of the kiosk's bundle that detection
never uses. tests/kiosk/inference/test_engine.py checks the faces found equal stock
SCRFD's on real photos at both detection sizes.

Two things differ from stock, for speed, with the same results: the input blob is made
channel by channel with one scaled conversion each (about a third of
``cv2.dnn.blobFromImage``'s time at 640x640), and only the anchors above the score
threshold are decoded (stock decodes all 16,800 at 640, then keeps the few). Stock
SCRFD also builds a fixed-shape session per size (with onnx); one session with dynamic
input runs within 2% of those (bench/bench_scrfd_sessions.py), so the detector keeps one.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from kiosk.inference.errors import ModelPackError
from kiosk.inference.faces import DetectedFace
from kiosk.inference.images import BGRImage

DEFAULT_SCORE_THRESHOLD = 0.5  # InsightFace's own default for SCRFD
NMS_THRESHOLD = 0.4
INPUT_MEAN = 127.5  # SCRFD's normalisation: (pixel - 127.5) / 128, RGB
INPUT_STD = 128.0
# Outputs per model layout: (strides, anchors per position, has keypoints).
_LAYOUTS: dict[int, tuple[tuple[int, ...], int, bool]] = {
    6: ((8, 16, 32), 2, False),
    9: ((8, 16, 32), 2, True),
    10: ((8, 16, 32, 64, 128), 1, False),
    15: ((8, 16, 32, 64, 128), 1, True),
}

Boxes = NDArray[np.float32]  # (n, 5): x1, y1, x2, y2, score
Keypoints = NDArray[np.float32]  # (n, 5, 2)


class SCRFDModel:
    """One SCRFD network: the input blob, the run and the decoding of its outputs."""

    def __init__(self, session: ort.InferenceSession, *, nms_threshold: float) -> None:
        outputs = session.get_outputs()
        layout = _LAYOUTS.get(len(outputs))
        if layout is None or not layout[2]:
            raise ModelPackError(
                f"The detector has {len(outputs)} outputs; an SCRFD model with five "
                "keypoints has 9 or 15. Use the detector file of a known pack."
            )
        self.session = session
        self.strides, self.anchors, _ = layout
        self.levels = len(self.strides)
        self.batched = len(outputs[0].shape) == 3
        self.input_name = session.get_inputs()[0].name
        self.output_names = [output.name for output in outputs]
        self.nms_threshold = nms_threshold
        self._centres_cache: dict[tuple[int, int, int], NDArray[np.float32]] = {}

    def input_blob(self, image: BGRImage) -> NDArray[np.float32]:
        """The RGB, normalised NCHW blob of ``image`` (``cv2.dnn.blobFromImage``'s values)."""
        height, width = image.shape[:2]
        blob = np.empty((1, 3, height, width), dtype=np.float32)
        scale, shift = 1.0 / INPUT_STD, -INPUT_MEAN / INPUT_STD
        for index, channel in enumerate(reversed(cv2.split(image))):  # BGR -> RGB
            cv2.addWeighted(
                channel, scale, channel, 0.0, shift, dst=blob[0, index], dtype=cv2.CV_32F
            )
        return blob

    def forward(
        self, square: BGRImage, threshold: float
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
        """Scores, boxes and keypoints of the anchors at or above ``threshold``."""
        blob = self.input_blob(square)
        outputs = self.session.run(self.output_names, {self.input_name: blob})
        scores, boxes, points = [], [], []
        for level, stride in enumerate(self.strides):
            level_scores = self._output(outputs, level).reshape(-1)
            positive = np.flatnonzero(level_scores >= threshold)
            centres = self._centres(blob.shape[2] // stride, blob.shape[3] // stride, stride)
            centres = centres[positive]
            distances = self._output(outputs, level + self.levels)[positive] * stride
            offsets = self._output(outputs, level + 2 * self.levels)[positive] * stride
            scores.append(level_scores[positive])
            boxes.append(np.hstack([centres - distances[:, :2], centres + distances[:, 2:]]))
            points.append(np.tile(centres, 5).reshape(-1, 5, 2) + offsets.reshape(-1, 5, 2))
        return (
            np.concatenate(scores).astype(np.float32),
            np.concatenate(boxes).astype(np.float32),
            np.concatenate(points).astype(np.float32),
        )

    def detect(
        self, image: BGRImage, det_size: int, threshold: float, max_faces: int
    ) -> tuple[Boxes, Keypoints]:
        """Boxes with scores and keypoints in ``image``'s coordinates, after NMS."""
        height, width = image.shape[:2]
        if height > width:
            new_height, new_width = det_size, int(det_size / (height / width))
        else:
            new_width, new_height = det_size, int(det_size * (height / width))
        scale = new_height / height
        square = np.zeros((det_size, det_size, 3), dtype=np.uint8)
        square[:new_height, :new_width] = cv2.resize(image, (new_width, new_height))
        scores, boxes, points = self.forward(square, threshold)
        order = np.argsort(-scores, kind="stable")
        found = np.hstack([boxes[order] / scale, scores[order, None]]).astype(np.float32)
        keypoints = (points[order] / scale).astype(np.float32)
        keep = self._nms(found)
        found, keypoints = found[keep], keypoints[keep]
        if 0 < max_faces < len(found):
            chosen = _central_largest(found, image.shape[:2])[:max_faces]
            found, keypoints = found[chosen], keypoints[chosen]
        return found, keypoints

    def _output(self, outputs: list[NDArray[np.float32]], index: int) -> NDArray[np.float32]:
        return outputs[index][0] if self.batched else outputs[index]

    def _centres(self, height: int, width: int, stride: int) -> NDArray[np.float32]:
        """Anchor centres of one stride's feature map (x, y), each repeated per anchor."""
        key = (height, width, stride)
        cached = self._centres_cache.get(key)
        if cached is not None:
            return cached
        rows, columns = np.mgrid[:height, :width]
        grid = np.stack([columns, rows], axis=-1).astype(np.float32)
        centres: NDArray[np.float32] = (grid * stride).reshape((-1, 2))
        if self.anchors > 1:
            centres = np.repeat(centres, self.anchors, axis=0)
        if len(self._centres_cache) < 100:
            self._centres_cache[key] = centres
        return centres

    def _nms(self, found: Boxes) -> list[int]:
        """Greedy non-maximum suppression in score order (InsightFace's, pixel-inclusive)."""
        x1, y1, x2, y2, scores = found.T
        areas = (x2 - x1 + 1) * (y2 - y1 + 1)
        order = np.argsort(-scores, kind="stable")
        keep: list[int] = []
        while order.size > 0:
            best, rest = int(order[0]), order[1:]
            keep.append(best)
            inter_w = np.maximum(
                0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]) + 1
            )
            inter_h = np.maximum(
                0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]) + 1
            )
            inter = inter_w * inter_h
            overlap = inter / (areas[best] + areas[rest] - inter)
            order = rest[overlap <= self.nms_threshold]
        return keep


def _central_largest(found: Boxes, shape: tuple[int, ...]) -> NDArray[np.intp]:
    """Faces ordered by area less twice the squared distance from the image centre."""
    area = (found[:, 2] - found[:, 0]) * (found[:, 3] - found[:, 1])
    centre_y, centre_x = shape[0] // 2, shape[1] // 2
    dx = (found[:, 0] + found[:, 2]) / 2 - centre_x
    dy = (found[:, 1] + found[:, 3]) / 2 - centre_y
    ordered: NDArray[np.intp] = np.argsort(area - (dx * dx + dy * dy) * 2.0)[::-1]
    return ordered


class FaceDetector:
    """Finds faces and their five keypoints; ``det_size`` trades accuracy for speed.

    SCRFD letterboxes the frame into a ``det_size`` square, so a live loop can detect at
    320 (about 4x cheaper than 640) and enrolment at 640.
    """

    def __init__(
        self,
        session: ort.InferenceSession,
        model_path: Path,
        *,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    ) -> None:
        self.model_path = model_path
        self.model = SCRFDModel(session, nms_threshold=NMS_THRESHOLD)
        self.score_threshold = score_threshold
        self.warmed_sizes: set[int] = set()

    def warm_up(self, det_sizes: tuple[int, ...]) -> None:
        """Run each size once now, so the first real frame at it is not slow."""
        blank = np.zeros((det_sizes[0], det_sizes[0], 3), dtype=np.uint8)
        for size in det_sizes:
            self.detect(blank, det_size=size)
            self.warmed_sizes.add(size)

    def detect(
        self, image: BGRImage, *, det_size: int = 640, max_faces: int = 0
    ) -> list[DetectedFace]:
        """Faces sorted by detector score, best first (at most ``max_faces`` if > 0)."""
        height, width = image.shape[:2]
        if min(height, width) * det_size < max(height, width):
            # Letterboxed into det_size, the short side would round to zero pixels (an
            # empty resize); no face fits in such a strip anyway.
            return []
        boxes, keypoints = self.model.detect(image, det_size, self.score_threshold, max_faces)
        faces = [
            DetectedFace(
                bbox=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
                score=float(b[4]),
                keypoints=np.asarray(kps, dtype=np.float32),
            )
            for b, kps in zip(boxes, keypoints, strict=True)
        ]
        return sorted(faces, key=lambda face: face.score, reverse=True)
