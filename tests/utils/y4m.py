"""Videos for Chromium's fake camera (`--use-file-for-fake-video-capture=FILE.y4m`).

A y4m file is a text header and raw I420 frames; OpenCV converts each frame, so a test
can turn real photos into a camera that Chromium plays in a loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

Frame = NDArray[np.uint8]  # BGR


def fit(image: Frame, width: int = 640, height: int = 480) -> Frame:
    """The photo scaled to fill the frame's height and centred on a grey canvas."""
    scale = min(width / image.shape[1], height / image.shape[0])
    resized = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)))
    canvas = np.full((height, width, 3), 110, np.uint8)
    top, left = (height - resized.shape[0]) // 2, (width - resized.shape[1]) // 2
    canvas[top : top + resized.shape[0], left : left + resized.shape[1]] = resized
    return canvas


def swung(image: Frame, angle: float) -> Frame:
    """The photo as a flat print turned about its vertical axis by `angle` (-1..1)."""
    h, w = image.shape[:2]
    shrink = abs(angle) * 0.35 * h  # the far edge looks shorter
    near, far = (0.0, shrink) if angle > 0 else (shrink, 0.0)
    squeeze = abs(angle) * 0.25 * w
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32(
        [
            [squeeze / 2, near / 2],
            [w - squeeze / 2, far / 2],
            [w - squeeze / 2, h - far / 2],
            [squeeze / 2, h - near / 2],
        ]
    )
    matrix = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(image, matrix, (w, h), borderValue=(110, 110, 110))


def write_y4m(path: Path, frames: Sequence[Frame], *, fps: int = 30) -> Path:
    """Write BGR frames of one even size as an uncompressed 4:2:0 y4m video."""
    height, width = frames[0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


def hold(poses: Sequence[Frame], seconds_each: float, *, fps: int = 30) -> list[Frame]:
    """Each pose repeated for `seconds_each`, in order (the fake camera loops the file)."""
    return [pose for pose in poses for _ in range(max(1, round(seconds_each * fps)))]
