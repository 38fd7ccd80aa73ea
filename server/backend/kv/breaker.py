"""A circuit breaker for one dependency (Redis): fail fast while it is down, log once.

After a failure the breaker opens: callers skip the dependency (and use their fallback)
for `cooldown` seconds, then exactly one caller tries it again. A success closes it.
One log line when an outage starts and one when it ends, never one per call.

pybreaker holds its lock for the whole protected call, which would serialise every
Redis call of a process behind one lock; this breaker only guards its own state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)


class CircuitBreaker:
    """Closed (calls pass), open (calls skip), one trial call after each cooldown."""

    def __init__(
        self,
        name: str,
        *,
        cooldown: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._opened_at: float | None = None
        self._retry_at = 0.0
        self._trial = False

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None

    def allow(self) -> bool:
        """Whether to call the dependency now (closed, or this caller is the trial)."""
        with self._lock:
            if self._opened_at is None:
                return True
            if self._trial or self._clock() < self._retry_at:
                return False
            self._trial = True
            return True

    def success(self) -> None:
        with self._lock:
            opened_at, self._opened_at, self._trial = self._opened_at, None, False
        if opened_at is not None:
            logger.warning(
                "%s is reachable again after %.1f s", self.name, self._clock() - opened_at
            )

    def failure(self, reason: object) -> None:
        with self._lock:
            first = self._opened_at is None
            if first:
                self._opened_at = self._clock()
            self._retry_at = self._clock() + self._cooldown
            self._trial = False
        if first:
            logger.error(
                "%s is unreachable (%s); working without it and retrying every %.0f s",
                self.name,
                reason,
                self._cooldown,
            )
