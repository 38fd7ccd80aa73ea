"""Value types shared across the engine: detected faces and embeddings."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from kiosk.inference.errors import ModelMismatchError

Vector = NDArray[np.float32]


@dataclass(frozen=True)
class DetectedFace:
    """One face found by the detector, in the coordinates of the image it ran on."""

    bbox: tuple[float, float, float, float]  # x1, y1, x2, y2
    score: float
    keypoints: NDArray[np.float32] = field(repr=False)  # (5, 2): eyes, nose, mouth corners
    # The detector's own landmarks when they differ from ``keypoints`` (the dlib pack's
    # eye corners and nose base): what that pack's recogniser aligns by.
    landmarks: NDArray[np.float32] | None = field(default=None, repr=False, compare=False)

    @property
    def inter_eye_distance(self) -> float:
        return float(np.linalg.norm(self.keypoints[1] - self.keypoints[0]))

    def scaled(self, factor: float) -> DetectedFace:
        """The same face in an image scaled by ``factor`` (e.g. back to the original file)."""
        x1, y1, x2, y2 = self.bbox
        return DetectedFace(
            (x1 * factor, y1 * factor, x2 * factor, y2 * factor),
            self.score,
            (self.keypoints * factor).astype(np.float32),
            None if self.landmarks is None else (self.landmarks * factor).astype(np.float32),
        )


@dataclass(frozen=True)
class Embedding:
    """An L2-normalised face embedding and the id of the recogniser that made it."""

    vector: Vector = field(repr=False)
    model_id: str

    def similarity(self, other: Embedding) -> float:
        """Cosine similarity in [-1, 1]; refuses embeddings of another recogniser."""
        require_same_model(self.model_id, other.model_id)
        return float(np.dot(self.vector, other.vector))


def require_same_model(expected: str, actual: str) -> None:
    if expected != actual:
        raise ModelMismatchError(
            f"Cannot compare embeddings of model {actual!r} with model {expected!r}: "
            "different recognisers give unrelated numbers. Re-enrol the faces with the "
            "current model or run the re-embedding job."
        )


def l2_normalise(rows: NDArray[np.float32]) -> NDArray[np.float32]:
    """Rows scaled to unit length (a zero row stays zero)."""
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    out = np.zeros_like(rows, dtype=np.float32)
    np.divide(rows, norms, out=out, where=norms > 0)
    return out
