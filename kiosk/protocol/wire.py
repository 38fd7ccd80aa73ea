"""How embeddings and check-ins look on the wire between kiosk and server.

Two embedding encodings, both standard base64:

- ``f32``: little-endian float32 values. The probe a kiosk sends with a check-in, so
  the server re-scores it at full precision.
- ``q8``: a little-endian float32 scale followed by one int8 per value (value =
  int8 x scale), then L2-normalised again. Gallery templates travel this way: a
  5,000-member snapshot fits in a few MB even compressed, where float32 (9.5 MB
  gzipped) and float16 (4.4 MB) do not; cosine similarities move by under 0.002
  (`tests/kiosk/protocol/test_wire.py` measures it on real photos).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from kiosk.errors import WireFormatError
from kiosk.protocol.checkins import NewCheckin

EmbeddingFormat = Literal["f32", "q8"]


def encode_f32(vector: NDArray[np.float32]) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def encode_q8(vector: NDArray[np.float32]) -> str:
    """Quantise to int8 with one scale per vector (the largest magnitude maps to 127)."""
    values = np.asarray(vector, dtype=np.float32)
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    scale = peak / 127.0 if peak > 0 else 1.0
    quantised = np.clip(np.rint(values / scale), -127, 127).astype(np.int8)
    return base64.b64encode(np.float32(scale).astype("<f4").tobytes() + quantised.tobytes()).decode(
        "ascii"
    )


def decode(text: str, fmt: EmbeddingFormat, dimension: int = 512) -> NDArray[np.float32]:
    """The float32 vector (L2-normalised for ``q8``); raises WireFormatError."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise WireFormatError("an embedding is not valid base64") from None
    if fmt == "f32":
        if len(raw) != 4 * dimension:
            raise WireFormatError(f"a float32 embedding has {len(raw)} bytes, not {4 * dimension}")
        return np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if len(raw) != 4 + dimension:
        raise WireFormatError(f"a q8 embedding has {len(raw)} bytes, not {4 + dimension}")
    scale = float(np.frombuffer(raw[:4], dtype="<f4")[0])
    vector = np.frombuffer(raw[4:], dtype=np.int8).astype(np.float32) * scale
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm == 0.0:
        raise WireFormatError("a q8 embedding is all zeros or not finite")
    return (vector / norm).astype(np.float32)


def checkin_item(checkin: NewCheckin) -> dict[str, Any]:
    """The upload item for a check-in (see the server's `KioskCheckinItem`)."""
    return {
        "key": checkin.key,
        "meeting_id": str(checkin.meeting_id),
        "member_id": str(checkin.member_id),
        "method": checkin.method,
        "similarity": round(float(checkin.similarity), 6),
        "margin": None if checkin.margin is None else round(float(checkin.margin), 6),
        "second_member_id": None
        if checkin.second_member_id is None
        else str(checkin.second_member_id),
        "device_time": checkin.device_time.isoformat(),
        "badge": checkin.badge,
        "model_id": checkin.model_id,
        "probe": encode_f32(checkin.probe),
        **({"face": base64.b64encode(checkin.face_jpeg).decode()} if checkin.face_jpeg else {}),
    }
