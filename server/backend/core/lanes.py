"""Thread lanes that keep slow work from starving the rest of the backend.

FastAPI runs every sync route and dependency on one shared pool of worker threads (40).
Work that can wait on something slow gets a small lane of its own instead, so a frozen
face-service or a saturated database pool never takes the threads that `/health` and
every other route need:

    probes  the readiness checks of `/health` (database, cache, face-service)
    faces   requests that call the face-service (phone check-in); a lane that is full
            and has a queue of `faces_queue` more answers 503 with Retry-After at once
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from server.backend.errors import BusyError

P = ParamSpec("P")
T = TypeVar("T")
BUSY = "The server is busy with other check-ins; try again in a few seconds."
BUSY_GENERIC = "The server is busy; try again in a few seconds."
BUSY_RETRY_AFTER = 5


class Lane:
    """A bounded pool of threads with a bounded queue in front of it."""

    def __init__(self, name: str, *, threads: int, queue: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
        self._limit = threads + queue
        self._lock = threading.Lock()
        self._admitted = 0

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `function` on the lane; refuse (BusyError) when the lane and queue are full."""
        with self._lock:
            if self._admitted >= self._limit:
                raise BusyError(BUSY, retry_after=BUSY_RETRY_AFTER)
            self._admitted += 1
        try:
            call = functools.partial(function, *args, **kwargs)
            return await asyncio.get_running_loop().run_in_executor(self._pool, call)
        finally:
            with self._lock:
                self._admitted -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class Lanes:
    """The backend's lanes (see the module docstring)."""

    def __init__(self, *, faces_threads: int = 8, faces_queue: int = 32) -> None:
        self.probes = Lane("health-probe", threads=4, queue=16)
        self.faces = Lane("face-call", threads=faces_threads, queue=faces_queue)

    def close(self) -> None:
        self.probes.close()
        self.faces.close()
