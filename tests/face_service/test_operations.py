"""What the face-service runs per request, called directly: reduced decoding of check-in
photos, and the fall-back to a full decode when the face is too small for it."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from kiosk.inference.engine import FaceEngine
from kiosk.inference.images import MAX_SIDE
from kiosk.inference.quality import Purpose
from server.face_service import operations
from tests.kiosk.conftest import photo_path

pytestmark = pytest.mark.model

LIMIT = 25 * 1024 * 1024


def phone_jpeg(face_scale: float) -> bytes:
    """A 4032x3024 photo with obama2's face pasted at ``face_scale``, on a noisy wall."""
    rng = np.random.default_rng(1)
    canvas = rng.integers(100, 141, (3024, 4032, 3), dtype=np.uint8)
    face = cv2.imread(str(photo_path("obama2")))
    face = cv2.resize(face, None, fx=face_scale, fy=face_scale, interpolation=cv2.INTER_CUBIC)
    h, w = face.shape[:2]
    canvas[100 : 100 + h, 600 : 600 + w] = face
    buffer = io.BytesIO()
    Image.fromarray(cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)).save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def vector(engine: FaceEngine, data: bytes, purpose: Purpose) -> np.ndarray:
    response = operations.embed(engine, data, purpose=purpose, max_bytes=LIMIT)
    return np.asarray(response.embedding, np.float32)


def test_check_in_photo_decodes_at_a_quarter_and_embeds_like_the_full_decode(
    offline_engine: FaceEngine,
) -> None:
    data = phone_jpeg(2.3)  # a selfie: ~270 px between the eyes
    image, analyzed = operations._embed_single(offline_engine, data, Purpose.CHECKIN, LIMIT)
    assert image.scale == 0.25 and image.pixels.shape == (756, 1008, 3)
    assert analyzed.quality.measures is not None
    assert analyzed.quality.measures.inter_eye_px > 250  # reported in the file's pixels
    reduced = vector(offline_engine, data, Purpose.CHECKIN)
    full = vector(offline_engine, data, Purpose.ENROLMENT)
    assert float(reduced @ full) > 0.95


def test_a_face_too_small_for_the_reduced_decode_is_decoded_in_full(
    offline_engine: FaceEngine,
) -> None:
    data = phone_jpeg(0.7)  # ~80 px between the eyes: 20 px at a quarter, under the crop's 35
    image, analyzed = operations._embed_single(offline_engine, data, Purpose.CHECKIN, LIMIT)
    assert image.scale == pytest.approx(MAX_SIDE / 4032)
    assert analyzed.face.inter_eye_distance > 35
    portrait = vector(offline_engine, photo_path("obama2").read_bytes(), Purpose.CHECKIN)
    assert float(vector(offline_engine, data, Purpose.CHECKIN) @ portrait) > 0.8
