"""Alignment's closed-form similarity against InsightFace's norm_crop (scikit-image's
Umeyama estimate), on real keypoints and on turned, scaled and shifted copies of them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from insightface.utils import face_align

from kiosk.inference import alignment
from kiosk.inference.engine import FaceEngine
from tests.kiosk.conftest import photo

pytestmark = pytest.mark.model


def keypoint_sets(engine: FaceEngine) -> list[np.ndarray]:
    """Every face of t1 and a portrait, and each turned by 35 degrees, shrunk and moved."""
    found = [f.keypoints for name in ("t1", "obama") for f in engine.detect(photo(name))]
    angle = math.radians(35)
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    moved = [(k @ turn.T * 0.6 + [40.0, -15.0]).astype(np.float32) for k in found]
    return found + moved


@pytest.mark.parametrize("side", [112, 128, 224])
def test_the_matrix_is_insightfaces(engine: FaceEngine, side: int) -> None:
    for keypoints in keypoint_sets(engine):
        expected = face_align.estimate_norm(keypoints, side)  # float32 on the way
        np.testing.assert_allclose(alignment.to_template(keypoints, side), expected, atol=1e-4)


def test_the_crops_are_insightfaces(engine: FaceEngine) -> None:
    image = photo("t1")
    for face in engine.detect(image):
        expected = face_align.norm_crop(image, landmark=face.keypoints, image_size=112)
        crop = alignment.align(image, face.keypoints, 112)
        assert crop.dtype == np.uint8 and crop.shape == (112, 112, 3)
        # Rounding of an identical matrix may move a pixel by one grey level at most.
        assert np.abs(crop.astype(int) - expected.astype(int)).max() <= 1
