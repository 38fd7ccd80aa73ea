"""`create_app(settings)`: the face-service's composition root.

Nothing happens at import time. The lifespan starts loading the model in the
background (so `/health` answers "loading" at once) and sets up the inference workers.
Every error a request can cause is answered here as a 4xx (or 503 while not ready);
an unexpected one is logged and answered 500 without stopping the process.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from kiosk.inference import (
    FaceEngine,
    FaceEngineError,
    ImageError,
    ModelMismatchError,
    QualityError,
)
from server.backend.api.limits import BodySizeLimit
from server.face_service.errors import (
    FaceServiceError,
    ImageTooLargeError,
    UnavailableError,
)
from server.face_service.routes import router
from server.face_service.runtime import InferenceRunner, ModelHolder
from server.face_service.schemas import API_KEY_HEADER
from server.face_service.settings import MAX_BODY_BYTES, FaceServiceSettings

log = logging.getLogger(__name__)

EngineLoader = Callable[[], FaceEngine]


def default_loader(settings: FaceServiceSettings) -> EngineLoader:
    """Load the configured pack without a progress bar (this is a service log)."""

    def load() -> FaceEngine:
        config = settings.engine
        return FaceEngine.load(config.resolve(progress=False), config.threads)

    return load


def create_app(settings: FaceServiceSettings, *, loader: EngineLoader | None = None) -> FastAPI:
    """The app for ``settings``; ``loader`` lets tests control when the model is ready."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        holder = ModelHolder(settings.engine.pack, loader or default_loader(settings))
        app.state.model = holder
        app.state.runner = InferenceRunner(settings.workers, settings.max_waiting)
        holder.start_loading()
        yield

    app = FastAPI(
        title="Sonta face-service (private)",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(router)
    _install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    if settings.api_key is not None:
        # Added last, so it runs first: no body is read before the key is checked.
        app.add_middleware(ApiKeyRequired, api_key=settings.api_key)
    return app


class ApiKeyRequired:
    """401 for any request whose X-API-Key differs from the key (constant-time compare)."""

    def __init__(self, app: ASGIApp, *, api_key: str) -> None:
        self.app = app
        self._key = api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = API_KEY_HEADER.lower().encode()
            sent = dict(scope["headers"]).get(header, b"")
            if not hmac.compare_digest(sent, self._key):
                await _send_json(send, 401, f"Send the face-service API key in {API_KEY_HEADER}.")
                return
        await self.app(scope, receive, send)


async def _send_json(send: Send, status: int, detail: str) -> None:
    payload = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _status_of(exc: Exception) -> int:
    if isinstance(exc, UnavailableError):
        return 503
    if isinstance(exc, ImageTooLargeError):
        return 413
    if isinstance(exc, ImageError):
        return 400
    if isinstance(exc, ModelMismatchError):
        return 409
    # QualityError, BadEmbeddingsError and any other engine refusal of this input.
    return 422


async def _handled(_request: Request, exc: Exception) -> JSONResponse:
    status = _status_of(exc)
    detail: object = str(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, QualityError) and exc.report is not None:
        detail = {
            "message": str(exc),
            "issues": [issue.value for issue in exc.report.issues],
            "reasons": exc.report.reasons,
        }
    if isinstance(exc, UnavailableError):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "The face-service failed on this input."}, status_code=500)


def _install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FaceEngineError, _handled)
    app.add_exception_handler(FaceServiceError, _handled)
    app.add_exception_handler(Exception, _unexpected)
