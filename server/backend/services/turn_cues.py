"""Two cues, beside the nose, that a head moved: read on each move's peak frame (left,
right or up).

The nose cue alone was beaten by one photo: warped locally around the nose tip (a
Gaussian displacement of 0.3-0.9 eye distances) and sent as the burst, it moved the
nose past the threshold and was approved.

The surroundings (`ring`, `change`): a real head turning shows another cheek outline,
ear and hair, and uncovers background; a phone held in the hand moves too. So the ring
around the face (the face box grown 1.8 times, the box itself left out), scaled to a
fixed size and compared in grey levels with the selfie's, must change by RING_MIN. It
refuses warps 0.45-0.6 eye distances wide, but a wider warp moves the ring too.

The remap (`remap_residual`), the cue that closes that: a turned face is not a 2-D
remap of the selfie. However a photo is warped, moved or scaled, every pixel of the
turned frame comes from the selfie, so a dense optical flow (Farneback) from the
selfie explains the face almost exactly. A real head turning shows what the selfie did
not (the side of the nose, an ear, the far cheek going behind the nose) and its light
falls differently. Both face crops are scaled to FLOW_SIDE pixels and contrast-
normalised; the residual is the mean grey-level error of the flow-warped selfie over
the crop's middle, and must be REMAP_MIN or more.

Measured on the calibration photos as the page sends them (`bench/bench_turn_cues.py`):
warp ramps 0.3-0.9 eye distances wide, pushed just past the nose threshold, read
2.9-10.5, genuine turns 13.8-41.6. The limit of that evidence: the genuine turns are
different photos of each person (other light, background, framing and moment), so
they overstate how much both cues change for a person turning in front of their phone
in the same light; how much lower a real turn reads is not measured here. Turns
rendered in 3-D from one photo in one light and place (`tests/utils/head_render.py`)
read 2.4-34 around the face and 3.8-21 of residual, and nearly all are refused: right
for a render of a photo, and a warning that a real turn in the same light may read
lower than other photos of the person do.

NOT refused: a warp pushed much further than the threshold needs (1.3-2.0 eye
distances) distorts the face so much that the flow no longer explains it (residual up
to 29, as much as a real turn): 4-6 of 10 such ramps passed at 0.6-1.2 wide. Nor
does the 3-D consistency of the pack's 106 landmarks tell them from genuine moves
(`bench/bench_landmark_pose.py`: a rigid head fit's residual refuses them all only
where it also refuses 7 of 16 genuine photo moves). These are speed bumps, not proof
of presence: a replayed video of the person, a 3-D render, a relit warp or a strongly
pushed one are not refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

RING_SIDE = 48  # pixels a side the ring is compared at
GROWTH = 1.8  # the ring's outer box over the face box
RING_MIN = 25.0  # mean grey-level change a turned frame's ring must show


@dataclass(frozen=True)
class Ring:
    """The grey pixels around one face, scaled so the face box has a fixed size."""

    pixels: NDArray[np.float32]


def ring(image: NDArray[np.uint8], bbox: Sequence[float]) -> Ring:
    """The ring around the face at `bbox` (in `image`'s own pixels)."""
    x1, y1, x2, y2 = (float(v) for v in bbox)
    centre_x, centre_y = (x1 + x2) / 2, (y1 + y2) / 2
    half = max(x2 - x1, y2 - y1) * GROWTH / 2
    factor = RING_SIDE / (2 * half)
    matrix = np.asarray(
        [
            [factor, 0, RING_SIDE / 2 - centre_x * factor],
            [0, factor, RING_SIDE / 2 - centre_y * factor],
        ],
        dtype=np.float32,
    )
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    scaled = cv2.warpAffine(grey, matrix, (RING_SIDE, RING_SIDE), borderMode=cv2.BORDER_REPLICATE)
    return Ring(np.asarray(scaled, dtype=np.float32))


def _outside_face() -> NDArray[np.bool_]:
    mask = np.ones((RING_SIDE, RING_SIDE), dtype=bool)
    inner = round(RING_SIDE / GROWTH / 2)
    middle = RING_SIDE // 2
    mask[middle - inner : middle + inner, middle - inner : middle + inner] = False
    return mask


OUTSIDE = _outside_face()


def change(before: Ring, after: Ring) -> float:
    """Mean grey-level difference of two rings, outside the face box."""
    return float(np.abs(before.pixels - after.pixels)[OUTSIDE].mean())


FLOW_SIDE = 96
REMAP_MIN = 12.0  # mean residual a turned face must leave


def _face_crop(image: NDArray[np.uint8], bbox: Sequence[float]) -> NDArray[np.uint8]:
    x1, y1, x2, y2 = (float(v) for v in bbox)
    half = max(x2 - x1, y2 - y1) * 0.6
    factor = FLOW_SIDE / (2 * half)
    centre_x, centre_y = (x1 + x2) / 2, (y1 + y2) / 2
    matrix = np.asarray(
        [
            [factor, 0, FLOW_SIDE / 2 - centre_x * factor],
            [0, factor, FLOW_SIDE / 2 - centre_y * factor],
        ],
        dtype=np.float32,
    )
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    crop = cv2.warpAffine(grey, matrix, (FLOW_SIDE, FLOW_SIDE), borderMode=cv2.BORDER_REPLICATE)
    pixels = np.asarray(crop, dtype=np.float32)
    normal = (pixels - pixels.mean()) / (pixels.std() + 1e-6)
    return np.asarray(np.clip(normal * 40 + 128, 0, 255), dtype=np.uint8)


def remap_residual(
    selfie: NDArray[np.uint8],
    selfie_box: Sequence[float],
    turned: NDArray[np.uint8],
    turned_box: Sequence[float],
) -> float:
    """How much of the turned face a 2-D remap of the selfie's cannot explain (see above)."""
    before, after = _face_crop(selfie, selfie_box), _face_crop(turned, turned_box)
    empty = np.zeros((FLOW_SIDE, FLOW_SIDE, 2), dtype=np.float32)
    flow = np.asarray(
        cv2.calcOpticalFlowFarneback(after, before, empty, 0.5, 3, 15, 3, 5, 1.2, 0), np.float32
    )
    cols, rows = np.meshgrid(np.arange(FLOW_SIDE), np.arange(FLOW_SIDE))
    map_x = (cols + flow[..., 0]).astype(np.float32)
    map_y = (rows + flow[..., 1]).astype(np.float32)
    moved = cv2.remap(before.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR)
    middle = slice(FLOW_SIDE // 6, FLOW_SIDE - FLOW_SIDE // 6)
    return float(np.abs(moved - after.astype(np.float32))[middle, middle].mean())
