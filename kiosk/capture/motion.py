"""Whether anything in front of the camera changed: the kiosk's cheap idle check.

With nobody in view the recognition thread would otherwise run a full-frame detection on
every frame (buffalo_l's detector: ~130 ms of a core at 320), all day. Comparing a
thumbnail of each frame with the one of the last frame that was looked at costs a few
hundredths of that, so the detector runs only when something moved, and once in a while
anyway (a change too slow or too small to see here is caught by that look).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from kiosk.inference import BGRImage

THUMB_SIZE = (80, 60)  # a person stepping in covers hundreds of these cells
# A cell changed when its grey level moved more than this (sensor noise and JPEG
# artefacts of a still scene stay within a few levels once averaged into a cell)...
CELL_DELTA = 18
# ...and the scene changed when this share of cells did (1 % is 48 cells: a face at
# the smallest check-in size alone covers more).
CHANGED_SHARE = 0.01
# The look anyway: with buffalo_l's cost every 2 s it alone took 6.5 % of a core and the
# idle kiosk 15.3 % (target 15 %); someone arriving moves, and wakes it within a frame.
RECHECK_S = 3.0


def thumbnail(image: BGRImage) -> NDArray[np.int16]:
    """A small grey picture of ``image``, averaged over cells (noise cancels out)."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    return cv2.resize(grey, THUMB_SIZE, interpolation=cv2.INTER_AREA).astype(np.int16)


class MotionGate:
    """Says when a frame differs from the last one looked at, or a look is due anyway."""

    def __init__(self, *, recheck_s: float = RECHECK_S) -> None:
        self.recheck_s = recheck_s
        self._reference: NDArray[np.int16] | None = None
        self._looked_at = float("-inf")

    def should_look(self, image: BGRImage, now: float) -> bool:
        """True when ``image`` should be searched for faces (and becomes the reference)."""
        thumb = thumbnail(image)
        due = now - self._looked_at >= self.recheck_s
        if due or self._reference is None or self._reference.shape != thumb.shape:
            changed = True
        else:
            moved = np.count_nonzero(np.abs(thumb - self._reference) > CELL_DELTA)
            changed = bool(moved >= CHANGED_SHARE * thumb.size)
        if changed:
            self._reference, self._looked_at = thumb, now
        return changed

    def looked(self, image: BGRImage, now: float) -> None:
        """``image`` was searched for faces anyway: compare later frames with it."""
        self._reference, self._looked_at = thumbnail(image), now

    def reset(self) -> None:
        self._reference, self._looked_at = None, float("-inf")
