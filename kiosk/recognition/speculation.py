"""Embedding a face ahead of need, on its own thread, so the decision is ready at the dwell's end.

buffalo_l's recogniser costs ~200 ms of a core; run after the face has been still for the
dwell it would add that to every welcome. The pipeline offers the aligned crop of a face
as soon as it passes the check-in gates in its current rest, and the embedding is made
while the person settles. A result is handed out only for the very key it was made for -
(track id, track epoch, start of the rest) - so it is never used for another face, for the
same place after someone else stepped in, or for a face that moved since.

One job at a time: an offer while another is running is declined (the next frame offers
again). The thread ends after a short idle spell and is started again by the next offer,
so a pipeline used frame by frame (tests, the benchmark) leaves no thread behind.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.inference import BGRImage, Vector

log = logging.getLogger(__name__)

Key = tuple[int, int, float]  # track id, track epoch, when its current rest began
IDLE_EXIT_S = 2.0


@dataclass(frozen=True)
class Speculated:
    """An embedding made ahead of need, with the crop it was made from."""

    key: Key
    vector: Vector
    crop: BGRImage


class SpeculativeEmbedder:
    """Embeds one offered crop at a time off the caller's thread; ``take`` by exact key."""

    def __init__(self, embed: Callable[[BGRImage], Vector]) -> None:
        self._embed = embed
        self._changed = threading.Condition()
        self._job: tuple[Key, BGRImage] | None = None  # offered, not started
        self._running: Key | None = None
        self._result: Speculated | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self.made = 0  # embeddings made (for stats)

    def offer(self, key: Key, crop: BGRImage) -> bool:
        """Start embedding ``crop`` for ``key`` unless busy or already done for ``key``."""
        with self._changed:
            busy = self._job is not None or self._running is not None
            done = self._result is not None and self._result.key == key
            if busy or done or self._closed:
                return False
            self._job = (key, crop)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="speculation", daemon=True)
                self._thread.start()
            self._changed.notify_all()
            return True

    def take(self, key: Key, timeout: float = 10.0) -> Speculated | None:
        """The embedding made for ``key`` (waiting while it is being made), once; else None."""
        with self._changed:
            self._changed.wait_for(lambda: not self._pending(key), timeout)
            result = self._result
            if result is None or result.key != key:
                return None
            self._result = None
            return result

    def _pending(self, key: Key) -> bool:
        return self._running == key or (self._job is not None and self._job[0] == key)

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._job is not None or self._closed, IDLE_EXIT_S)
                if self._job is None or self._closed:
                    self._thread = None  # the next offer starts a fresh thread
                    return
                (key, crop), self._job = self._job, None
                self._running = key
            result: Speculated | None = None
            try:
                result = Speculated(key, self._embed(crop), crop)
            except Exception:
                log.exception("speculative embedding failed (it is made again when needed)")
            with self._changed:
                self._running = None
                if result is not None:
                    self._result = result
                    self.made += 1
                self._changed.notify_all()

    def forget(self) -> None:
        """Drop a finished result (e.g. the meeting changed)."""
        with self._changed:
            self._result = None

    def close(self, timeout: float = 5.0) -> None:
        """Let a running embedding finish, then end the thread."""
        with self._changed:
            self._closed = True
            self._job = None
            thread = self._thread
            self._changed.notify_all()
        if thread is not None:
            thread.join(timeout)

    def reopen(self) -> None:
        with self._changed:
            self._closed = False
