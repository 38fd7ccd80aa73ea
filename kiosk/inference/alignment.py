"""Warping a face onto ArcFace's canonical template from its five keypoints.

The similarity transform (rotation, uniform scale, shift) that best maps the keypoints
onto the template in the least-squares sense has a closed form in 2-D. It is the
transform InsightFace's ``norm_crop`` gets from scikit-image's Umeyama estimate, to a
hundred-thousandth of a pixel (scikit-image rounds to float32 on the way), at a tenth
of the cost, so aligning and the quality gate's edge measure can each afford it.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from kiosk.inference.images import BGRImage

# InsightFace's ``arcface_dst``: eyes, nose tip, mouth corners in a 112 x 112 crop.
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)

Matrix = NDArray[np.float64]


def template(side: int) -> NDArray[np.float64]:
    """The template for a ``side``-pixel crop (InsightFace's rule: multiples of 112
    scale it, multiples of 128 scale it and shift it 8/128 of the side right)."""
    points = ARCFACE_TEMPLATE.astype(np.float64)
    if side % 112 == 0:
        scaled: NDArray[np.float64] = points * (side / 112.0)
    else:
        scaled = points * (side / 128.0) + np.array([8.0 * side / 128.0, 0.0])
    return scaled


def to_template(keypoints: NDArray[np.float32], side: int) -> Matrix:
    """The 2 x 3 affine matrix taking picture coordinates to the ``side`` crop's."""
    source = keypoints.astype(np.float64)
    target = template(side)
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    s, t = source - source_mean, target - target_mean
    spread = max(float((s * s).sum()), 1e-12)
    a = float((s[:, 0] * t[:, 0] + s[:, 1] * t[:, 1]).sum()) / spread
    b = float((s[:, 0] * t[:, 1] - s[:, 1] * t[:, 0]).sum()) / spread
    rotation = np.array([[a, -b], [b, a]])
    shift = target_mean - rotation @ source_mean
    return np.hstack([rotation, shift[:, None]])


def align(image: BGRImage, keypoints: NDArray[np.float32], side: int) -> BGRImage:
    """The face warped onto the template, ``side`` x ``side`` pixels, black outside."""
    matrix = to_template(keypoints, side)
    crop = cv2.warpAffine(image, matrix, (side, side), borderValue=0.0)
    return np.asarray(crop, dtype=np.uint8)
