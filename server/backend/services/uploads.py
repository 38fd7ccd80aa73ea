"""Uploaded images: limits per purpose, checked from the header, and bounded decoding.

A few KB of PNG can declare a 40 MP canvas; decoded and copied it cost the backend
~430 MiB. So every upload path checks bytes and pixels from the header first (nothing
decoded), decodes at a reduced scale only what it must, and never runs more than
`DecodeSlots.size` decodes at once; a request that finds no free slot soon is told to
retry (503) instead of queueing memory.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from kiosk.inference import DecodedImage, ImageError, ImageHeader, decode_image, inspect_image
from server.backend.errors import BadRequestError, PayloadTooLargeError, ServiceUnavailableError


@dataclass(frozen=True)
class UploadLimits:
    """What one purpose accepts: file size, and pixels the decoder may materialise."""

    name: str
    max_bytes: int
    max_side: int
    max_pixels: int


# The phone page sends a 1280 px JPEG; a camera's full 12 MP JPEG still passes, since it
# decodes at 1/2 scale. A PNG above 4 MP does not.
SELFIE = UploadLimits("selfie", 2 * 1024 * 1024, 1280, 4_000_000)
# One frame of the phone's head-turn burst: the page sends 400 px JPEGs. Each frame costs
# an embedding, so a frame may never declare more than a selfie's pixels either.
TURN_FRAME = UploadLimits("head-turn frame", 512 * 1024, 1280, 1_300_000)
# A kiosk's aligned face crop (at most 320 px a side, checked after the header).
EVIDENCE = UploadLimits("evidence crop", 64 * 1024, 320, 640 * 640)
# An enrolment photo may be larger, but never a canvas beyond a camera's.
ENROLMENT = UploadLimits("enrolment photo", 10 * 1024 * 1024, 2560, 12_000_000)


class DecodeSlots:
    """Bounds the decodes running at once in this process."""

    def __init__(self, size: int = 2, *, wait_seconds: float = 10.0) -> None:
        self.size = size
        self._slots = threading.BoundedSemaphore(size)
        self._wait = wait_seconds

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold one slot for the block; 503 when none frees up in time."""
        if not self._slots.acquire(timeout=self._wait):
            raise ServiceUnavailableError("The server is busy with other photos; try again.")
        try:
            yield
        finally:
            self._slots.release()

    def decode(self, data: bytes, limits: UploadLimits) -> DecodedImage:
        """Decode under `limits` once a slot is free (header checked first)."""
        check_header(data, limits)
        with self.held():
            try:
                return decode_image(
                    data,
                    max_bytes=limits.max_bytes,
                    max_side=limits.max_side,
                    max_pixels=limits.max_pixels,
                )
            except ImageError as exc:
                raise BadRequestError(f"The {limits.name} cannot be used: {exc}") from exc


def check_header(data: bytes, limits: UploadLimits) -> ImageHeader:
    """Refuse from the header alone: too many bytes (413), not an image or too many pixels."""
    if len(data) > limits.max_bytes:
        raise PayloadTooLargeError(
            f"The {limits.name} is larger than {limits.max_bytes // 1024} KiB; "
            "send a smaller photo."
        )
    try:
        return inspect_image(
            data,
            max_bytes=limits.max_bytes,
            max_side=limits.max_side,
            max_pixels=limits.max_pixels,
        )
    except ImageError as exc:
        raise BadRequestError(f"The {limits.name} cannot be used: {exc}") from exc
