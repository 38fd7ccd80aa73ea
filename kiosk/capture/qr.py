"""Reading QR codes (member badges) from camera frames.

zxing-cpp is used because it reads much better and faster from a webcam frame than
OpenCV's ``QRCodeDetector``: measured on a rendered badge (273-character token) pasted
into a 640x480 frame, lightly blurred and JPEG-compressed, zxing-cpp read it from
160 px wide in ~1 ms, OpenCV only at 400 px in 10-35 ms (``bench/bench_kiosk_pipeline.py``
repeats the comparison). OpenCV's reader stays here for that comparison.
"""

from __future__ import annotations

import cv2
import zxingcpp

from kiosk.inference import BGRImage

MAX_TEXT = 2048  # longer than any badge: ignore, never parse


def read_qr_codes(image: BGRImage) -> list[str]:
    """Texts of the QR codes zxing-cpp finds in ``image`` (BGR or grey)."""
    # Made per call: a module-level nanobind object outlives the binding at exit and
    # nanobind then reports it as a leak on stderr.
    qr_only = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    found = zxingcpp.read_barcodes(image, formats=qr_only)
    return [code.text for code in found if code.valid and 0 < len(code.text) <= MAX_TEXT]


def read_qr_codes_opencv(image: BGRImage) -> list[str]:
    """The same with OpenCV's detector (kept to compare against in the benchmark)."""
    text, _points, _ = cv2.QRCodeDetector().detectAndDecode(image)
    return [text] if text and len(text) <= MAX_TEXT else []
