"""Evidence crops: the small face image a reviewer sees beside a check-in in the review band.

It is the only image the server keeps. It is a JPEG of the face region, at most
EVIDENCE_SIDE pixels on its longest side, sealed with AES-256-GCM under the template
key (EMBEDDING_ENCRYPTION_KEY) with the record id as associated data, so a crop moved
to another record fails to open. It is erased once the record is reviewed, and after
EVIDENCE_RETENTION otherwise.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import cv2
import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import update
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from kiosk.inference import DecodedImage, ImageError, decode_image, fit_within
from server.backend.core.config import Settings
from server.backend.errors import BadRequestError, NotFoundError
from server.backend.models import AttendanceRecord, utcnow
from server.backend.services import uploads

logger = logging.getLogger(__name__)

EVIDENCE_RETENTION = timedelta(days=30)
EVIDENCE_SIDE = 160
# A crop of EVIDENCE_SIDE pixels is a few KiB; anything far larger is not a crop.
MAX_EVIDENCE_BYTES = 64 * 1024
JPEG_QUALITY = 80
_NONCE_BYTES = 12


def _associated_data(record_id: uuid.UUID) -> bytes:
    return f"sonta-evidence-v1|{record_id}".encode()


class EvidenceCipher:
    """Seals with the current template key; opens with it or a previous one (rotation)."""

    def __init__(self, key: str, *, previous: Sequence[str] = ()) -> None:
        self._current = AESGCM(key.encode())
        self._all = [self._current, *(AESGCM(k.encode()) for k in previous)]

    @classmethod
    def from_settings(cls, settings: Settings) -> EvidenceCipher:
        key = settings.embedding_encryption_key
        if not key:
            raise ValueError("EMBEDDING_ENCRYPTION_KEY is missing; use load_settings()")
        return cls(key, previous=settings.previous_embedding_keys())

    def seal(self, jpeg: bytes, *, record_id: uuid.UUID) -> tuple[bytes, bytes]:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce, self._current.encrypt(nonce, jpeg, _associated_data(record_id))

    def open(self, nonce: bytes, ciphertext: bytes, *, record_id: uuid.UUID) -> bytes | None:
        """The JPEG, or None when no known key opens it for this record."""
        for aesgcm in self._all:
            try:
                return aesgcm.decrypt(nonce, ciphertext, _associated_data(record_id))
            except InvalidTag:
                continue
        return None


def face_crop(image: DecodedImage, bbox: Sequence[float]) -> bytes:
    """A small JPEG of the face at `bbox` (original pixels) with a little context around it.

    Works on the reduced decode the caller already made (upright, as the face-service
    saw it), so a crop never costs a full-size decode of the photo.
    """
    height, width = image.pixels.shape[:2]
    x1, y1, x2, y2 = (v * image.scale for v in bbox)
    pad_x, pad_y = (x2 - x1) * 0.2, (y2 - y1) * 0.2
    left, top = max(0, int(x1 - pad_x)), max(0, int(y1 - pad_y))
    right, bottom = min(width, int(x2 + pad_x)), min(height, int(y2 + pad_y))
    if right <= left or bottom <= top:
        raise BadRequestError("The face is outside the photo; take the photo again.")
    crop = fit_within(np.ascontiguousarray(image.pixels[top:bottom, left:right]), EVIDENCE_SIDE)
    ok, encoded = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise BadRequestError("The face could not be cropped; take the photo again.")
    return bytes(encoded.tobytes())


def check_crop(jpeg: bytes) -> None:
    """Refuse anything but a small, readable JPEG: no other raw images are kept.

    Bytes and pixels are checked from the header before the (then tiny) decode.
    """
    if len(jpeg) > MAX_EVIDENCE_BYTES:
        raise BadRequestError(
            f"The evidence crop is larger than {MAX_EVIDENCE_BYTES // 1024} KiB; "
            f"send the face only, at most {EVIDENCE_SIDE} pixels wide."
        )
    header = uploads.check_header(jpeg, uploads.EVIDENCE)
    if max(header.original_size) > 2 * EVIDENCE_SIDE:
        raise BadRequestError(
            f"The evidence crop is too large; at most {2 * EVIDENCE_SIDE} pixels a side."
        )
    try:
        decode_image(jpeg, max_bytes=MAX_EVIDENCE_BYTES, max_pixels=uploads.EVIDENCE.max_pixels)
    except ImageError as exc:
        raise BadRequestError(f"The evidence crop is not usable: {exc}") from exc


def attach(
    cipher: EvidenceCipher, record: AttendanceRecord, jpeg: bytes, *, now: datetime | None = None
) -> None:
    """Seal a crop onto a record awaiting review (the caller commits)."""
    check_crop(jpeg)
    record.evidence_nonce, record.evidence_ciphertext = cipher.seal(jpeg, record_id=record.id)
    record.evidence_expires_at = (now or utcnow()) + EVIDENCE_RETENTION


def read(cipher: EvidenceCipher, record: AttendanceRecord) -> bytes:
    """The record's crop; 404 when there is none (never kept, reviewed, or expired)."""
    expired = record.evidence_expires_at is not None and record.evidence_expires_at <= utcnow()
    if record.evidence_nonce is None or record.evidence_ciphertext is None or expired:
        raise NotFoundError("This check-in has no evidence image (none was kept, or it expired).")
    jpeg = cipher.open(record.evidence_nonce, record.evidence_ciphertext, record_id=record.id)
    if jpeg is None:
        raise NotFoundError("The evidence image cannot be opened with the configured keys.")
    return jpeg


def erase(record: AttendanceRecord) -> None:
    record.evidence_nonce = record.evidence_ciphertext = record.evidence_expires_at = None


def purge_expired(session: Session, *, now: datetime | None = None) -> int:
    """Erase every crop past its retention period; returns how many (the caller commits)."""
    result = session.execute(
        update(AttendanceRecord)
        .where(AttendanceRecord.evidence_expires_at <= (now or utcnow()))
        .values(evidence_nonce=None, evidence_ciphertext=None, evidence_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def purge_at_startup(sessions: sessionmaker[Session]) -> None:
    """Purge expired crops when a replica starts; never stops the start.

    Reviews purge too, but a system nobody reviews must still forget on time. An
    unreachable or unmigrated database is reported by /health, not here.
    """
    try:
        with sessions() as session:
            erased = purge_expired(session)
            session.commit()
    except (OperationalError, ProgrammingError) as exc:
        logger.warning("Expired evidence images not purged at start-up: %s", exc)
        return
    if erased:
        logger.info("Erased %d expired evidence image(s)", erased)
