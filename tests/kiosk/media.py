"""Video files and image folders made from real photos, for frame-source and pipeline tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from kiosk.inference.images import BGRImage


def fit(image: BGRImage, size: tuple[int, int] = (640, 480)) -> BGRImage:
    """``image`` scaled to fit inside ``size`` (width, height), centred on grey."""
    width, height = size
    scale = min(width / image.shape[1], height / image.shape[0])
    scaled = cv2.resize(image, (int(image.shape[1] * scale), int(image.shape[0] * scale)))
    canvas = np.full((height, width, 3), 90, np.uint8)
    top = (height - scaled.shape[0]) // 2
    left = (width - scaled.shape[1]) // 2
    canvas[top : top + scaled.shape[0], left : left + scaled.shape[1]] = scaled
    return canvas


def write_video(path: Path, frames: Sequence[BGRImage], fps: float = 30.0) -> Path:
    """An MJPG .avi of ``frames`` (all the size of the first)."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened(), "OpenCV cannot write MJPG video here"
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()
    return path


def write_folder(folder: Path, images: Sequence[BGRImage]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index, image in enumerate(images):
        cv2.imwrite(str(folder / f"{index:03d}.jpg"), image)
    return folder
