"""Live events leave the request through a queue drained by one background thread.

A request that changed attendance hands its events to `EventRelay.publish`, which only
queues them (never blocks, never raises), so a slow, frozen or dead cache costs the
write path nothing. The relay thread publishes them in order; the store it publishes
to (`FailSafeStore`) drops them quickly while Redis is away. A full queue drops the
newest events and says so once per overflow, not once per event.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Protocol

logger = logging.getLogger(__name__)

# Far above any burst (a 500-item kiosk batch is 500 events); memory stays small.
CAPACITY = 10_000


class Publisher(Protocol):
    def publish(self, channel: str, message: str) -> None: ...


class EventRelay:
    """Queue events now, publish them on a background thread."""

    def __init__(
        self,
        store: Publisher,
        *,
        capacity: int = CAPACITY,
        observe: Callable[[str, str], None] | None = None,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        # Metrics: each event as it goes out, and each publish that raised.
        self._observe = observe
        self._on_failure = on_failure
        # An item is an event, a marker Event set when reached (flush), or None (stop).
        self._queue: queue.Queue[tuple[str, str] | threading.Event | None] = queue.Queue(
            maxsize=capacity
        )
        self._overflowing = False
        self._thread = threading.Thread(target=self._run, name="live-event-relay", daemon=True)
        self._thread.start()

    def publish(self, channel: str, message: str) -> None:
        """Queue one event; returns at once whatever the cache is doing."""
        try:
            self._queue.put_nowait((channel, message))
        except queue.Full:
            if not self._overflowing:
                self._overflowing = True
                logger.error(
                    "Live events arrive faster than they can be published; "
                    "dropping new ones until the queue drains"
                )

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every event queued so far was handed to the store."""
        reached = threading.Event()
        try:
            self._queue.put(reached, timeout=timeout)
        except queue.Full:
            return False
        return reached.wait(timeout)

    def close(self, timeout: float = 2.0) -> None:
        """Publish what is queued (for at most `timeout` seconds) and stop the thread."""
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if isinstance(item, threading.Event):
                item.set()
                continue
            if self._overflowing and self._queue.empty():
                self._overflowing = False
            if self._observe is not None:
                self._observe(*item)
            try:
                self._store.publish(*item)
            except Exception:  # the relay must outlive any one failed publish
                logger.exception("Could not publish a live event on %s", item[0])
                if self._on_failure is not None:
                    self._on_failure()
