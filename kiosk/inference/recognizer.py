"""Face alignment and ArcFace embeddings on an injected onnxruntime session.

The preprocessing is InsightFace's ``ArcFaceONNX.get_feat`` (RGB, (pixel - 127.5) / 127.5,
NCHW), written out so that nothing imports the ``insightface`` package at run time (see
kiosk.inference.detector). ArcFaceONNX reads that normalisation from the model's first
graph nodes; every recogniser of the known packs (the w600k family) uses 127.5, and
tests/kiosk/inference/test_engine.py checks the embeddings equal ArcFaceONNX's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from kiosk.inference import alignment
from kiosk.inference.errors import ModelPackError
from kiosk.inference.faces import DetectedFace, l2_normalise
from kiosk.inference.images import BGRImage

INPUT_MEAN = 127.5
INPUT_STD = 127.5

# Crops per recogniser run. Measured with the offline pack on the 6 faces of t1, CPU
# time per crop at one intra-op thread: runs of 1, 2 or 4 crops within noise of each
# other, one run of 6 about 7% more (96 against 103 ms), of 12 about 5-8% more; at two
# threads one run of 6 cost 20% more CPU than six runs of one.
CROPS_PER_RUN = 4


class FaceRecognizer:
    """Aligns faces by their keypoints and embeds many of them in runs of a few."""

    def __init__(self, session: ort.InferenceSession, model_path: Path) -> None:
        self.model_path = model_path
        self.session = session
        model_input = session.get_inputs()[0]
        height, width = model_input.shape[2:4]
        if not isinstance(width, int) or width != height:
            raise ModelPackError(
                f"The recogniser {model_path.name} takes {model_input.shape}, not square "
                "crops of a fixed size. Use the recogniser file of a known pack."
            )
        self.input_name = model_input.name
        self.output_names = [output.name for output in session.get_outputs()]
        self.crop_size = width
        self.dimension = int(session.get_outputs()[0].shape[-1])

    def align(self, image: BGRImage, face: DetectedFace) -> BGRImage:
        """The face warped onto ArcFace's canonical 112x112 template by its keypoints."""
        return alignment.align(image, face.keypoints, self.crop_size)

    def embed(self, crops: Sequence[BGRImage]) -> NDArray[np.float32]:
        """L2-normalised embeddings, one row per aligned crop, CROPS_PER_RUN per run."""
        if not crops:
            return np.empty((0, self.dimension), dtype=np.float32)
        runs = [
            self.raw_embeddings(crops[start : start + CROPS_PER_RUN])
            for start in range(0, len(crops), CROPS_PER_RUN)
        ]
        return l2_normalise(np.concatenate(runs).astype(np.float32, copy=False))

    def raw_embeddings(self, crops: Sequence[BGRImage]) -> NDArray[np.float32]:
        """The network's output for a few crops in one run, not normalised."""
        size = (self.crop_size, self.crop_size)
        blob = cv2.dnn.blobFromImages(
            list(crops), 1.0 / INPUT_STD, size, (INPUT_MEAN,) * 3, swapRB=True
        )
        output = self.session.run(self.output_names, {self.input_name: blob})[0]
        return np.asarray(output, dtype=np.float32)
