"""Embeddings on the wire: f32 exact, q8 (the gallery's) close enough to change no decision."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kiosk.errors import WireFormatError
from kiosk.inference.engine import FaceEngine
from kiosk.inference.matching import DEFAULT_THRESHOLDS, band_for
from kiosk.inference.quality import Purpose
from kiosk.protocol.wire import decode, encode_f32, encode_q8
from tests.kiosk.conftest import photo


@pytest.fixture(scope="module")
def real_embeddings(engine: FaceEngine) -> list[np.ndarray]:
    """Every face in the real photos: Obama three times, Biden, six people, 22 players."""
    vectors = []
    for name in ("obama", "obama2", "obama3", "biden"):
        face = engine.embed_single(photo(name), purpose=Purpose.CHECKIN)
        assert face.embedding is not None
        vectors.append(face.embedding.vector)
    for name in ("t1", "players"):
        vectors += [a.embedding.vector for a in engine.analyze(photo(name)) if a.embedding]
    assert len(vectors) > 25
    return vectors


@pytest.mark.model
def test_q8_changes_no_decision_between_real_faces(real_embeddings: list[np.ndarray]) -> None:
    worst = 0.0
    for a, b in itertools.combinations(real_embeddings, 2):
        exact = float(np.dot(a, b))
        stored = float(np.dot(a, decode(encode_q8(b), "q8")))
        worst = max(worst, abs(exact - stored))
        assert band_for(stored, DEFAULT_THRESHOLDS) == band_for(exact, DEFAULT_THRESHOLDS) or (
            abs(exact - DEFAULT_THRESHOLDS.accept) < 0.003
            or abs(exact - DEFAULT_THRESHOLDS.review) < 0.003
        )
    assert worst < 0.003, worst


def test_f32_round_trips_exactly_and_q8_stays_normalised() -> None:
    vector = np.random.default_rng(1).normal(size=512).astype(np.float32)
    vector /= np.linalg.norm(vector)
    assert np.array_equal(decode(encode_f32(vector), "f32"), vector)
    assert len(encode_q8(vector)) == 688  # base64 of 4 + 512 bytes
    assert np.linalg.norm(decode(encode_q8(vector), "q8")) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        ("not base64!", "f32", "not valid base64"),
        ("AAAA", "f32", "has 3 bytes"),
        (encode_f32(np.zeros(512, np.float32)), "q8", "not 516"),
        ("AAAAAA" + "A" * 682, "q8", "all zeros"),
    ],
)
def test_malformed_embeddings_are_refused(text: str, fmt: str, message: str) -> None:
    with pytest.raises(WireFormatError, match=message):
        decode(text, fmt)  # type: ignore[arg-type]
