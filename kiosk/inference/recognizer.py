"""Face alignment and ArcFace embeddings with InsightFace's ArcFaceONNX."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from insightface.model_zoo.arcface_onnx import ArcFaceONNX
from numpy.typing import NDArray

from kiosk.inference import alignment
from kiosk.inference.faces import l2_normalise
from kiosk.inference.images import BGRImage


class FaceRecognizer:
    """Aligns faces by their keypoints and embeds many of them in one batch."""

    def __init__(self, session: ort.InferenceSession, model_path: Path) -> None:
        self._arcface = ArcFaceONNX(model_file=str(model_path), session=session)
        self.crop_size = int(self._arcface.input_size[0])
        self.dimension = int(self._arcface.output_shape[-1])

    def align(self, image: BGRImage, keypoints: NDArray[np.float32]) -> BGRImage:
        """The face warped onto ArcFace's canonical 112x112 template."""
        return alignment.align(image, keypoints, self.crop_size)

    def embed(self, crops: Sequence[BGRImage]) -> NDArray[np.float32]:
        """L2-normalised embeddings, one row per aligned crop, from a single model run."""
        if not crops:
            return np.empty((0, self.dimension), dtype=np.float32)
        features = self._arcface.get_feat(list(crops))
        return l2_normalise(np.asarray(features, dtype=np.float32))
