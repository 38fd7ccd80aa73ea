"""The detector and recogniser interfaces every pack implements, and loading a pack's pair.

The ONNX packs run InsightFace's SCRFD and ArcFace on onnxruntime; the dlib pack runs
dlib (kiosk.inference.dlib_pack). The engine, the kiosk and the face-service see only
these two interfaces, so a pack is chosen by FACE_MODEL alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from kiosk.inference.faces import DetectedFace
from kiosk.inference.images import BGRImage
from kiosk.inference.packs import ResolvedPack
from kiosk.inference.sessions import ThreadSettings


class Detector(Protocol):
    """Finds faces with SCRFD-style keypoints (eyes, nose tip, mouth corners)."""

    score_threshold: float

    def warm_up(self, det_sizes: tuple[int, ...]) -> None: ...

    def detect(
        self, image: BGRImage, *, det_size: int = 640, max_faces: int = 0
    ) -> list[DetectedFace]: ...


class Recognizer(Protocol):
    """Aligns a detected face into a crop of ``crop_size`` and embeds crops in a batch."""

    @property
    def crop_size(self) -> int: ...

    @property
    def dimension(self) -> int: ...

    def align(self, image: BGRImage, face: DetectedFace) -> BGRImage: ...

    def embed(self, crops: Sequence[BGRImage]) -> NDArray[np.float32]: ...


def load_models(pack: ResolvedPack, settings: ThreadSettings) -> tuple[Detector, Recognizer]:
    """The pack's detector and recogniser, loaded from its two resolved files only."""
    if pack.spec.runtime == "dlib":
        from kiosk.inference.dlib_pack import DlibDetector, DlibRecognizer  # noqa: PLC0415

        return DlibDetector(pack.detector_path), DlibRecognizer(pack.recognizer_path)
    from kiosk.inference.detector import FaceDetector  # noqa: PLC0415
    from kiosk.inference.recognizer import FaceRecognizer  # noqa: PLC0415
    from kiosk.inference.sessions import create_session  # noqa: PLC0415

    detector = FaceDetector(create_session(pack.detector_path, settings), pack.detector_path)
    recognizer = FaceRecognizer(
        create_session(pack.recognizer_path, settings), pack.recognizer_path
    )
    return detector, recognizer
