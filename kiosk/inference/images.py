"""Turning untrusted bytes into the engine's image type, safely.

Images are ``NDArray[np.uint8]`` of shape (height, width, 3) in BGR order everywhere
in this package (OpenCV's and InsightFace's convention).

Decoding checks the size and format from the header before decoding anything, decodes
large JPEGs at a reduced scale (so a 12000x9000 photo never becomes a 324 MB array),
refuses truncated files instead of returning a half-grey picture, honours the EXIF
orientation of phone photos, and scales the result down to ``max_side``.

A JPEG is decoded only as large as its use needs (``min_side``): libjpeg's DCT scaling
makes a 1/2, 1/4 or 1/8 size image for a fraction of a full decode. A 4032x3024 phone
photo decoded in full and then shrunk cost 108-175 ms, about four times the detection
and embedding that follow; at 1/4 it is a few tens of ms (bench/bench_engine.py).
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

from kiosk.inference.errors import ImageError

BGRImage: TypeAlias = NDArray[np.uint8]

MAX_BYTES = 25 * 1024 * 1024
MAX_SIDE = 2560
# Check-in needs 800 pixels on the longest side: the detector sees at most 640, and a
# face that fills a selfie keeps ~100 px between the eyes, three times what the 112 px
# aligned crop holds. A 4032x3024 photo decodes at 1/4 (1008x756), an 8 MP one at 1/4
# (816 px). Enrolment keeps MAX_SIDE: a group photo's faces need the detail.
CHECKIN_MIN_SIDE = 800
# Formats are refused above this many pixels unless they can be decoded at reduced scale.
MAX_FULL_DECODE_PIXELS = 40_000_000
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "BMP"})

# Sizes are checked here before decoding (and large JPEGs decoded at reduced scale), so
# Pillow's generic decompression-bomb warning would only be noise.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


@dataclass(frozen=True)
class DecodedImage:
    """Pixels ready for the engine, and how they relate to the original file."""

    pixels: BGRImage
    original_size: tuple[int, int]  # (width, height) as stored in the file
    scale: float  # decoded size / original size; coordinates divide by it to map back


def read_image_file(
    path: Path, *, max_bytes: int = MAX_BYTES, max_side: int = MAX_SIDE
) -> DecodedImage:
    """Read and decode an image file; raises ImageError with a reason on any failure."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if size > max_bytes:
        raise ImageError(_too_many_bytes(size, max_bytes))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return decode_image(data, max_bytes=max_bytes, max_side=max_side)


@dataclass(frozen=True)
class ImageHeader:
    """What the file's header says, read without decoding any pixels."""

    format: str
    original_size: tuple[int, int]  # (width, height) as stored in the file
    decoded_size: tuple[int, int]  # what decoding would materialise (JPEG: DCT-reduced)


def inspect_image(
    data: bytes,
    *,
    max_bytes: int = MAX_BYTES,
    max_side: int = MAX_SIDE,
    max_pixels: int = MAX_FULL_DECODE_PIXELS,
) -> ImageHeader:
    """Check bytes, format and pixel count from the header alone; decodes nothing.

    Lets a public endpoint refuse an image that would be costly to decode (a few KB of
    PNG can declare 40 MP) before it spends memory on it.
    """
    opened, original = _open_checked(data, max_bytes, max_side, max_pixels)
    return ImageHeader(opened.format or "unknown", original, opened.size)


def decode_image(
    data: bytes,
    *,
    max_bytes: int = MAX_BYTES,
    max_side: int = MAX_SIDE,
    max_pixels: int = MAX_FULL_DECODE_PIXELS,
    min_side: int | None = None,
) -> DecodedImage:
    """Decode JPEG/PNG/WebP/BMP bytes into a BGR image no larger than ``max_side``.

    ``max_pixels`` caps what the decoder may materialise (after JPEG's reduced-scale
    decode), so a tiny file declaring a huge canvas is refused from its header.
    ``min_side`` is what the use needs (default ``max_side``): a JPEG decodes at the
    smallest DCT scale whose longest side still reaches it.
    """
    opened, (width, height) = _open_checked(
        data, max_bytes, max_side, max_pixels, draft_side=min(max_side, min_side or max_side)
    )
    try:
        opened.load()
        image = ImageOps.exif_transpose(opened)
        if image.mode != "RGB":
            image = image.convert("RGB")
    except Image.DecompressionBombError as exc:
        raise ImageError(_too_many_pixels(width, height, max_side)) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(
            f"The image could not be decoded ({exc}); it may be truncated or corrupt. "
            "Take or send the photo again."
        ) from exc
    pixels = fit_within(
        np.asarray(cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR), np.uint8), max_side
    )
    # The longest side is the same whatever the EXIF rotation, so it gives the scale.
    scale = max(pixels.shape[:2]) / max(width, height)
    return DecodedImage(pixels=pixels, original_size=(width, height), scale=scale)


def _open_checked(
    data: bytes, max_bytes: int, max_side: int, max_pixels: int, *, draft_side: int | None = None
) -> tuple[Image.Image, tuple[int, int]]:
    """The opened header and the stored size, checked, set up for a reduced decode that
    keeps ``draft_side`` (default ``max_side``) pixels on the longest side."""
    if not data:
        raise ImageError("The image is empty (0 bytes). Send a JPEG or PNG photo.")
    if len(data) > max_bytes:
        raise ImageError(_too_many_bytes(len(data), max_bytes))
    try:
        opened = Image.open(io.BytesIO(data))
        image_format = opened.format or "unknown"
        if image_format not in ACCEPTED_FORMATS:
            raise ImageError(
                f"Unsupported image format {image_format}. Send a JPEG, PNG or WebP photo."
            )
        width, height = opened.size
        _check_dimensions(opened, max_side, max_pixels, draft_side or max_side)
    except ImageError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageError(
            "This is not an image in a format we read. Send a JPEG, PNG or WebP photo."
        ) from exc
    except Image.DecompressionBombError as exc:
        raise ImageError(
            f"The image has too many pixels to process ({exc}). Resize it to at most "
            f"{max_side} pixels on its longest side."
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(
            f"The image could not be read ({exc}); it may be truncated or corrupt. "
            "Take or send the photo again."
        ) from exc
    return opened, (width, height)


def _check_dimensions(image: Image.Image, max_side: int, max_pixels: int, draft_side: int) -> None:
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageError("The image has no pixels. Send a real photo.")
    if image.format == "JPEG":
        # DCT scaling: the decoder itself produces a 1/2, 1/4 or 1/8 size image, the
        # smallest that still covers ``draft_side`` on the longest side.
        factor = min(1.0, draft_side / max(width, height))
        image.draft("RGB", (math.ceil(width * factor), math.ceil(height * factor)))
    decoded_width, decoded_height = image.size  # reduced for a JPEG after draft()
    if decoded_width * decoded_height > max_pixels:
        raise ImageError(_too_many_pixels(width, height, max_side))


def _too_many_pixels(width: int, height: int, max_side: int) -> str:
    return (
        f"The image is {width}x{height} pixels: too many pixels for this service. "
        f"Resize it to at most {max_side} pixels on its longest side."
    )


def fit_within(pixels: BGRImage, max_side: int) -> BGRImage:
    """Scale down (never up) so the longest side is at most ``max_side``."""
    height, width = pixels.shape[:2]
    longest = max(height, width)
    if longest <= max_side:
        return pixels
    factor = max_side / longest
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return np.asarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _too_many_bytes(size: int, limit: int) -> str:
    return (
        f"The image is {size / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB. "
        "Send a smaller photo (a phone photo at normal quality is a few MB)."
    )
