"""One photo of a face turned in 3-D: a head shape guessed from its five keypoints,
rotated and projected again, and relit by a light that stays where it was.

The shape is a prior, not the person's: an ellipsoid head (half as deep as it is wide)
whose front passes through the eyes, with a nose ridge rising to the nose tip. A pixel
of the head at depth z moves, when the head turns by `yaw` about its vertical axis, to
x' = cx + (x - cx) cos(yaw) + z sin(yaw) (a phone at arm's length sees nearly an
orthographic view); tilting up by `pitch` likewise moves it vertically. The
background stays (the phone is held still) and the head blends into it over a soft
edge. The shading of each head pixel is scaled by how its surface normal, turned with
the head, now faces a light fixed in front, above and to one side: a real head turning
in a room's light changes its shading that way.

What such a render is not: it shows no side of the head the photo did not (the far
cheek is squeezed, the near side stretched; no ear appears), its shape is a guess, and
the person's expression, blinks and hair do not change. So it is a smooth, continuous
turn in one light and place (what photos of a person taken at other times are not), but
every pixel of it still comes from the one photo: a cue that refuses 2-D remaps of the
selfie may rightly refuse it too.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

Image = NDArray[np.uint8]
Points = NDArray[np.float32]
Grid = NDArray[np.float32]

LIGHT = np.asarray([-0.35, -0.45, 0.82])  # towards the light: left of, above, in front
AMBIENT = 0.45  # the share of the light that does not depend on the surface's angle


def _shape(shape: tuple[int, ...], points: Points) -> tuple[Grid, Grid, Grid, Grid, Grid]:
    """The pixel grid, the head's depth there (eye distances * pixels), its soft mask,
    and the head centre's coordinates."""
    eyes = (points[0] + points[1]) / 2
    eye_px = float(np.hypot(*(points[1] - points[0])))
    mouth = (points[3] + points[4]) / 2
    centre_x = float(eyes[0] + mouth[0]) / 2
    centre_y = float(eyes[1] * 0.6 + mouth[1] * 0.4)
    half_w, half_h, depth = 1.25 * eye_px, 1.75 * eye_px, 0.9 * eye_px
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    inside = 1 - ((cols - centre_x) / half_w) ** 2 - ((rows - centre_y) / half_h) ** 2
    z = depth * np.sqrt(np.clip(inside, 0, 1))
    nose_x, nose_y = (float(v) for v in points[2])
    ridge = np.exp(
        -((cols - nose_x) ** 2) / (2 * (0.16 * eye_px) ** 2)
        - np.clip(rows - nose_y, None, 0) ** 2 / (2 * (0.55 * eye_px) ** 2)
        - np.clip(rows - nose_y, 0, None) ** 2 / (2 * (0.12 * eye_px) ** 2)
    )
    z = (z + 0.38 * eye_px * ridge).astype(np.float32)
    mask = np.clip(inside / 0.12, 0, 1).astype(np.float32)
    return cols, rows, z, mask, np.asarray([centre_x, centre_y], np.float32)


def _normals(z: Grid) -> Grid:
    dz_dy, dz_dx = np.gradient(z)
    n = np.dstack([-dz_dx, -dz_dy, np.ones_like(z)])
    return np.asarray(n / np.linalg.norm(n, axis=2, keepdims=True), np.float32)


def _rotation(yaw: float, pitch: float) -> NDArray[np.float64]:
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    turn = np.asarray([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    tilt = np.asarray([[1, 0, 0], [0, cp, sp], [0, -sp, cp]])  # chin up: the front rises
    return tilt @ turn


def turned(image: Image, points: Points, yaw_deg: float, pitch_deg: float = 0.0) -> Image:
    """`image` with its face (keypoints `points`) turned `yaw_deg` towards the image's
    right (the person's own left) and tilted `pitch_deg` chin up (see the docstring)."""
    cols, rows, z, mask, centre = _shape(image.shape, points)
    rotation = _rotation(math.radians(yaw_deg), math.radians(pitch_deg))
    # In x right, y up, z out of the picture (image rows grow downwards).
    x, up = cols - centre[0], centre[1] - rows
    moved_x = rotation[0, 0] * x + rotation[0, 1] * up + rotation[0, 2] * z
    moved_up = rotation[1, 0] * x + rotation[1, 1] * up + rotation[1, 2] * z
    shift_x = (mask * (moved_x - x)).astype(np.float32)
    shift_y = (mask * (up - moved_up)).astype(np.float32)
    # Where each output pixel comes from: invert the forward shift by fixed-point steps.
    src_x, src_y = cols.copy(), rows.copy()
    for _ in range(12):
        back_x = cv2.remap(shift_x, src_x, src_y, cv2.INTER_LINEAR)
        back_y = cv2.remap(shift_y, src_x, src_y, cv2.INTER_LINEAR)
        src_x, src_y = cols - back_x, rows - back_y
    out = cv2.remap(image, src_x, src_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    normals = _normals(z)
    before = AMBIENT + (1 - AMBIENT) * np.clip(normals @ LIGHT, 0, 1)
    flipped = normals * np.asarray([1, -1, 1], np.float32)  # to x right, y up, z out
    after_n = (flipped @ rotation.T) * np.asarray([1, -1, 1])
    after = AMBIENT + (1 - AMBIENT) * np.clip(after_n @ LIGHT, 0, 1)
    gain = 1 + mask * (after / np.maximum(before, 1e-3) - 1)
    gain = cv2.remap(gain.astype(np.float32), src_x, src_y, cv2.INTER_LINEAR)
    lit = out.astype(np.float32) * np.clip(gain, 0.5, 1.8)[..., None]
    return np.asarray(np.clip(lit, 0, 255), np.uint8)
