"""A one-slot "latest frame" mailbox between a capture thread and its readers.

``put`` overwrites whatever was there, so a slow reader never makes a queue grow and
never sees a stale frame: it gets the newest one. Measured here, a queued signal per
frame left a preview 1.1 s behind after 6 s; this slot keeps it one frame old.
Several readers (the recognition thread, a preview) each remember the last sequence
number they took and ask for something newer.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from kiosk.inference import BGRImage


@dataclass(frozen=True)
class Frame:
    """A captured BGR image, its sequence number (from 1) and capture time (monotonic)."""

    image: BGRImage
    seq: int
    captured_at: float

    @property
    def size(self) -> tuple[int, int]:
        """Width and height in pixels."""
        height, width = self.image.shape[:2]
        return int(width), int(height)


class LatestFrame:
    """Holds only the newest frame; readers wait for one newer than they last saw."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._frame: Frame | None = None
        self._seq = 0

    def put(self, image: BGRImage, captured_at: float | None = None) -> Frame:
        """Replace the held frame with ``image`` (the previous one is dropped)."""
        with self._changed:
            self._seq += 1
            stamp = time.monotonic() if captured_at is None else captured_at
            self._frame = Frame(image, self._seq, stamp)
            self._changed.notify_all()
            return self._frame

    def latest(self) -> Frame | None:
        """The newest frame without waiting (None before the first)."""
        return self._frame

    def get(self, after: int = 0, timeout: float | None = None) -> Frame | None:
        """The newest frame with ``seq > after``, waiting up to ``timeout`` s; else None."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._seq > after, timeout):
                return None
            return self._frame

    @property
    def seq(self) -> int:
        """Sequence number of the newest frame (0 before the first)."""
        return self._seq
