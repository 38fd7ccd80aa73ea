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


def place_face(
    image: BGRImage,
    keypoints: np.ndarray,
    *,
    size: tuple[int, int] = (640, 480),
    eye_px: float = 60.0,
    centre: tuple[float, float] = (320.0, 220.0),
) -> BGRImage:
    """A ``size`` frame where the face of ``keypoints`` has ``eye_px`` between the eyes
    and the eye midpoint at ``centre``: photos of one person taken apart line up as
    frames of one video (the tracker then follows them as one face).
    """
    eyes = keypoints[:2].astype(np.float64)
    scale = eye_px / float(np.linalg.norm(eyes[1] - eyes[0]))
    mid = eyes.mean(axis=0)
    matrix = np.array(
        [[scale, 0.0, centre[0] - scale * mid[0]], [0.0, scale, centre[1] - scale * mid[1]]]
    )
    return cv2.warpAffine(image, matrix, size, borderValue=(90, 90, 90))


def swing(image: BGRImage, degrees: float, focal: float = 800.0) -> BGRImage:
    """``image`` as a flat print turned ``degrees`` about its vertical axis, seen by a camera."""
    height, width = image.shape[:2]
    angle = np.radians(degrees)
    corners = np.array(
        [
            [-width / 2, -height / 2, 0],
            [width / 2, -height / 2, 0],
            [width / 2, height / 2, 0],
            [-width / 2, height / 2, 0],
        ]
    )
    rotation = np.array(
        [[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]]
    )
    turned = corners @ rotation.T
    turned[:, 2] += focal
    projected = np.float32(
        [[focal * x / z + width / 2, focal * y / z + height / 2] for x, y, z in turned]
    )
    source = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    matrix = cv2.getPerspectiveTransform(source, projected)
    return cv2.warpPerspective(image, matrix, (width, height), borderValue=(90, 90, 90))
