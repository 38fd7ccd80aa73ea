"""A second head-turn cue, beside the nose: the face's surroundings change as a head turns.

The nose cue alone was beaten by one photo: warped locally around the nose tip (a
Gaussian displacement of 0.3-0.9 eye distances) and sent as the burst, it moved the
nose past the threshold and was approved. Such a warp leaves everything around the
face as it was. A real head turning shows another cheek outline, ear and hair, and
uncovers background; a phone held in the hand moves too. So the ring around the face
(the face box grown 1.8 times, the box itself left out), scaled to a fixed size and
compared in grey levels with the selfie's, must change on the frames that turned.

Measured on the test photos as the page sends them (`bench/bench_turn_cues.py`): of
36 genuine turns rendered from photos of one man (two selfies, three zooms, three
shifts in the frame, both directions) this cue refused none that the nose cue passed
(the nose cue alone refused 4, where the turn was small). Of the warps that beat the
nose cue, it refused every one 0.45-0.6 eye distances wide, but a wider warp with a
larger push (0.75-0.9) moves the ring too and still passes: this cue does not close
that. The limit of the evidence: the genuine turns are different photos of one man
(other light, background and framing), so they overstate how much a ring changes for a
person turning in front of a plain wall with the phone held still; that is where this
cue would refuse a real turn. It is a speed bump, like the nose cue, not proof of
presence.
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
