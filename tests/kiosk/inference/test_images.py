"""Decoding untrusted bytes: every bad input gives an ImageError with a reason."""

from __future__ import annotations

import functools
import io
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from kiosk.inference.errors import ImageError
from kiosk.inference.images import (
    CHECKIN_MIN_SIDE,
    MAX_SIDE,
    decode_image,
    fit_within,
    inspect_image,
    read_image_file,
)
from tests.kiosk.conftest import photo_path


def encode(pixels: np.ndarray, ext: str = ".jpg") -> bytes:
    ok, buffer = cv2.imencode(ext, pixels)
    assert ok
    return buffer.tobytes()


def test_real_photo_decodes_to_bgr_at_full_size() -> None:
    decoded = read_image_file(photo_path("obama"))
    reference = cv2.imread(str(photo_path("obama")))
    assert decoded.pixels.dtype == np.uint8
    assert decoded.pixels.shape == reference.shape
    assert decoded.scale == 1.0
    # Same decoder family: pixel values agree closely with OpenCV's own BGR decode.
    assert np.abs(decoded.pixels.astype(int) - reference.astype(int)).mean() < 2


def test_empty_bytes_are_refused() -> None:
    with pytest.raises(ImageError, match="empty"):
        decode_image(b"")


def test_text_is_not_an_image() -> None:
    with pytest.raises(ImageError, match="not an image"):
        decode_image(b"name,email\nAma,ama@example.org\n")


def test_unsupported_format_is_named() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="GIF")
    with pytest.raises(ImageError, match="Unsupported image format GIF"):
        decode_image(buffer.getvalue())


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_truncated_file_is_refused_not_half_decoded(ext: str) -> None:
    data = encode(cv2.imread(str(photo_path("obama2"))), ext)
    with pytest.raises(ImageError, match="truncated or corrupt"):
        decode_image(data[: len(data) // 2])


def test_too_many_bytes_are_refused_before_decoding() -> None:
    with pytest.raises(ImageError, match=r"limit is 1 MB"):
        decode_image(b"\xff\xd8" + b"\0" * 1_500_000, max_bytes=1_000_000)


def test_huge_jpeg_is_decoded_at_reduced_scale_without_a_memory_blow_up() -> None:
    big = np.zeros((9000, 12000, 3), np.uint8)
    cv2.circle(big, (6000, 4500), 2000, (40, 160, 220), -1)
    data = encode(big)
    del big
    tracemalloc.start()
    decoded = decode_image(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert max(decoded.pixels.shape[:2]) == MAX_SIDE
    assert decoded.original_size == (12000, 9000)
    assert decoded.scale == pytest.approx(MAX_SIDE / 12000)
    assert peak < 120_000_000  # a full decode alone would be 324 MB


def test_huge_png_is_refused_with_advice() -> None:
    data = encode(np.zeros((9000, 12000, 3), np.uint8), ".png")
    with pytest.raises(ImageError, match=r"12000x9000 pixels.*Resize it"):
        decode_image(data)


def tiny_png(width: int, height: int) -> bytes:
    """A few KB of 1-bit PNG that declares a large canvas (the attack's selfie)."""
    out = io.BytesIO()
    Image.new("1", (width, height)).save(out, format="PNG", optimize=True)
    return out.getvalue()


def test_a_tiny_png_declaring_a_huge_canvas_is_refused_from_its_header() -> None:
    data = tiny_png(6300, 6300)
    assert len(data) < 10_000
    tracemalloc.start()
    with pytest.raises(ImageError, match=r"6300x6300 pixels.*Resize it"):
        inspect_image(data, max_pixels=4_000_000)
    with pytest.raises(ImageError, match=r"6300x6300 pixels"):
        decode_image(data, max_pixels=4_000_000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 5_000_000  # a decode would be 119 MB of RGB


def test_a_large_jpeg_passes_the_pixel_cap_when_its_reduced_decode_fits() -> None:
    data = encode(np.full((6000, 8000, 3), 90, np.uint8))
    header = inspect_image(data, max_side=1280, max_pixels=4_000_000)
    assert header.format == "JPEG" and header.original_size == (8000, 6000)
    assert header.decoded_size == (2000, 1500)  # DCT-scaled by 1/4, nothing decoded yet
    decoded = decode_image(data, max_side=1280, max_pixels=4_000_000)
    assert max(decoded.pixels.shape[:2]) == 1280


def test_exif_orientation_of_phone_photos_is_applied() -> None:
    pixels = np.zeros((40, 80, 3), np.uint8)  # landscape as stored
    buffer = io.BytesIO()
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    image.save(buffer, format="JPEG", exif=exif)
    decoded = decode_image(buffer.getvalue())
    assert decoded.pixels.shape[:2] == (80, 40)


def test_missing_file_is_an_image_error(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="cannot read"):
        read_image_file(tmp_path / "nope.jpg")


def test_fit_within_only_shrinks() -> None:
    small = np.zeros((100, 50, 3), np.uint8)
    assert fit_within(small, 200) is small
    assert fit_within(np.zeros((1000, 500, 3), np.uint8), 200).shape == (200, 100, 3)


@functools.cache
def phone_photo(orientation: int = 1) -> bytes:
    """A 4032x3024 JPEG (a 12 MP phone photo) made from a real portrait, with an EXIF
    orientation tag; noise gives it a phone photo's entropy (~3 MB)."""
    portrait = cv2.imread(str(photo_path("obama3")))
    big = cv2.resize(portrait, (4032, 3024), interpolation=cv2.INTER_CUBIC)
    noise = np.random.default_rng(0).integers(-10, 11, big.shape, dtype=np.int16)
    big = np.clip(big + noise, 0, 255).astype(np.uint8)
    image = Image.fromarray(cv2.cvtColor(big, cv2.COLOR_BGR2RGB))
    exif = image.getexif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92, exif=exif)
    return buffer.getvalue()


def test_phone_photo_decodes_at_the_reduced_scale_check_in_needs() -> None:
    """Before, a 12 MP photo was decoded in full (4032x3024) and shrunk to 2560."""
    decoded = decode_image(phone_photo(), min_side=CHECKIN_MIN_SIDE)
    assert decoded.pixels.shape == (756, 1008, 3)  # libjpeg's 1/4 scale, no resize after
    assert decoded.scale == 0.25 and decoded.original_size == (4032, 3024)
    full = decode_image(phone_photo())  # the enrolment default keeps MAX_SIDE
    assert max(full.pixels.shape[:2]) == MAX_SIDE
    shrunk = cv2.resize(full.pixels, (1008, 756), interpolation=cv2.INTER_AREA)
    assert np.abs(shrunk.astype(int) - decoded.pixels.astype(int)).mean() < 4  # same picture


def test_reduced_decode_keeps_the_exif_orientation() -> None:
    upright = decode_image(phone_photo(1), min_side=CHECKIN_MIN_SIDE).pixels
    turned = decode_image(phone_photo(6), min_side=CHECKIN_MIN_SIDE).pixels  # rotate 90 CW
    assert turned.shape == (1008, 756, 3)
    expected = cv2.rotate(upright, cv2.ROTATE_90_CLOCKWISE)
    assert np.abs(expected.astype(int) - turned.astype(int)).mean() < 1


def test_min_side_never_goes_below_what_was_asked_or_above_max_side() -> None:
    data = phone_photo()
    assert max(decode_image(data, min_side=1100).pixels.shape) == 2016  # 1/4 would be 1008
    assert max(decode_image(data, min_side=5000).pixels.shape) == MAX_SIDE
    small = encode(cv2.imread(str(photo_path("obama"))))
    assert decode_image(small, min_side=CHECKIN_MIN_SIDE).scale == 1.0  # 1137 px: kept whole
