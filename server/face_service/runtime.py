"""The loaded model and the workers that run it, kept off the event loop.

The model loads in a background thread started by the app's lifespan, so the port is
open at once and `/health` can answer "loading" while it happens. Requests run their
decode + inference in worker threads (the engine is thread-safe), at most ``workers``
at a time, so `/health` stays responsive under load.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import anyio
import anyio.to_thread

from kiosk.inference import KNOWN_PACKS, FaceEngine, FaceEngineError
from server.face_service.errors import UnavailableError

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


class ModelState(enum.Enum):
    LOADING = "loading"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


@dataclass(frozen=True)
class ModelStatus:
    """A snapshot of the model's state; ``error`` says why it failed to load."""

    state: ModelState
    pack: str
    error: str | None = None

    @property
    def licence(self) -> str | None:
        """The pack's weight licence in one word (None for a name no registry knows)."""
        spec = KNOWN_PACKS.get(self.pack)
        return spec.licence if spec is not None else None


class ModelHolder:
    """Loads the engine once, in the background, and hands it out when ready."""

    def __init__(self, pack: str, loader: Callable[[], FaceEngine]) -> None:
        self._pack = pack
        self._loader = loader
        self._lock = threading.Lock()
        self._engine: FaceEngine | None = None
        self._error: str | None = None
        self._thread: threading.Thread | None = None

    def start_loading(self) -> None:
        """Begin loading in a daemon thread (a stop during loading need not wait for it)."""
        self._thread = threading.Thread(target=self._load, name="model-loader", daemon=True)
        self._thread.start()

    def wait_loaded(self, timeout: float | None = None) -> ModelStatus:
        """Block until loading has finished (for tests and benchmarks), then the status."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.status()

    def _load(self) -> None:
        log.info("Loading face model %s", self._pack)
        started = time.perf_counter()
        try:
            engine = self._loader()
        except FaceEngineError as exc:
            log.error("Face model %s could not be loaded: %s", self._pack, exc)
            with self._lock:
                self._error = str(exc)
            return
        except Exception as exc:  # a broken model file must not kill the service silently
            log.exception("Face model %s could not be loaded", self._pack)
            with self._lock:
                self._error = f"{type(exc).__name__}: {exc}"
            return
        with self._lock:
            self._engine = engine
        log.info(
            "Face model %s loaded in %.1f s (model id %s)",
            self._pack,
            time.perf_counter() - started,
            engine.model_id,
        )

    def status(self) -> ModelStatus:
        with self._lock:
            if self._engine is not None:
                return ModelStatus(ModelState.HEALTHY, self._pack)
            if self._error is not None:
                return ModelStatus(ModelState.UNHEALTHY, self._pack, self._error)
            return ModelStatus(ModelState.LOADING, self._pack)

    def engine(self) -> FaceEngine:
        """The loaded engine; UnavailableError (503) while loading or after a failure."""
        with self._lock:
            engine, error = self._engine, self._error
        if engine is not None:
            return engine
        if error is not None:
            raise UnavailableError(
                f"The face model {self._pack} could not be loaded: {error}", retry_after=30
            )
        raise UnavailableError(
            f"The face model {self._pack} is still loading; try again in a few seconds.",
            retry_after=2,
        )


class InferenceRunner:
    """Runs blocking work in threads, ``workers`` at a time, with a bounded queue.

    Only touched from the event loop thread, so the waiting count needs no lock.
    """

    def __init__(self, workers: int, max_waiting: int) -> None:
        self._limiter = anyio.CapacityLimiter(workers)
        self._max_pending = workers + max_waiting
        self._pending = 0

    async def run(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._pending >= self._max_pending:
            raise UnavailableError(
                "The face-service is busy with other photos; try again in a moment.",
                retry_after=1,
            )
        self._pending += 1
        try:
            return await anyio.to_thread.run_sync(
                lambda: func(*args, **kwargs), limiter=self._limiter
            )
        finally:
            self._pending -= 1
