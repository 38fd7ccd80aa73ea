"""The backend application: `create_app(settings)` is the composition root.

Nothing happens at import time; the lifespan builds the services (database pool,
store, token and crypto services), migrates the embedded database, and creates the
super admin on first start.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from server.backend.api.compression import GalleryGZip
from server.backend.api.errors import install_error_handlers
from server.backend.api.headers import SecurityHeaders
from server.backend.api.limits import BodySizeLimit
from server.backend.api.routes import (
    admins,
    attempts,
    attendance,
    audit,
    auth,
    badges,
    checkin_page,
    docs,
    events,
    health,
    kiosk_api,
    kiosk_board,
    kiosk_evidence,
    kiosk_refusals,
    kiosks,
    meetings,
    members,
    pages,
    phone_checkin,
    present,
    qr,
    reports,
    reviews,
    templates,
)
from server.backend.api.routes import metrics as metrics_route
from server.backend.core.config import Settings, load_settings
from server.backend.core.context import build_backend
from server.backend.core.heap import startup_objects_frozen
from server.backend.core.logs import install_masking
from server.backend.core.metrics import Metrics, RequestMetrics
from server.backend.core.public_url import log_public_url
from server.backend.core.security.passwords import Argon2Params
from server.backend.services.evidence import purge_at_startup
from server.backend.services.face_client import report_readiness, unavailable_line
from server.backend.services.mailer import Mailer
from server.backend.services.phone_video import MAX_BYTES as PHONE_VIDEO_BYTES
from server.backend.tasks.bootstrap import ensure_super_admin, prepare_database

logger = logging.getLogger(__name__)

PHONE_BODY_BYTES = PHONE_VIDEO_BYTES + 1024 * 1024  # the clip and the form around it


def api_router() -> APIRouter:
    router = APIRouter(prefix="/api")
    routes = (auth, admins, members, templates, meetings, events, attendance, reviews, qr, audit)
    kiosk_side = (kiosks, kiosk_api, kiosk_board, kiosk_evidence, kiosk_refusals, badges)
    for module in (*routes, attempts, present, phone_checkin, reports, *kiosk_side):
        router.include_router(module.router)
    return router


def create_app(
    settings: Settings,
    *,
    mailer: Mailer | None = None,
    password_params: Argon2Params | None = None,
) -> FastAPI:
    """Build the app; `mailer` and `password_params` let tests capture mail and hash fast."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        backend = build_backend(
            settings, mailer=mailer, password_params=password_params, metrics=metrics
        )
        try:
            prepare_database(backend)
            ensure_super_admin(backend)
            purge_at_startup(backend.sessions)
            face = report_readiness(backend.face_service, settings.face_model)
            log_public_url(settings)
            app.state.backend = backend
            logger.info("Backend ready (%s database)", backend.engine.dialect.name)
            if not face.ready:
                # Start-up's last line, so an operator reading the end of the log sees it.
                logger.warning(unavailable_line(backend.face_service, face))
            with startup_objects_frozen():
                yield
        finally:
            backend.close()

    metrics = Metrics()
    install_masking()  # query strings (search terms, tickets, tokens) out of the access log
    app = FastAPI(
        title="Sonta Attendance API",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json" if settings.docs_enabled else None,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(checkin_page.router)
    app.include_router(pages.router)
    if settings.docs_enabled:
        app.include_router(docs.router)
    app.include_router(present.page_router)
    app.include_router(api_router())
    if settings.metrics_token:
        app.include_router(metrics_route.router)
    _add_middleware(app, settings)
    app.add_middleware(RequestMetrics, metrics=metrics)  # outermost: every answer counts
    return app


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    """CORS for exactly FRONTEND_URL (bearer tokens, no cookies), the body limit, gzip,
    and the security headers."""
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[settings.cors_origin],
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type"],
        allow_credentials=False,
        max_age=600,
    )
    # The phone's selfie video is the one body larger than a photo (its own cap inside).
    app.add_middleware(BodySizeLimit, larger={"/api/checkin/phone": PHONE_BODY_BYTES})
    app.add_middleware(GalleryGZip)
    # Outermost, so every answer carries them, the middleware's own included.
    app.add_middleware(SecurityHeaders, production=settings.is_production)
    # X-Forwarded-For only from TRUSTED_PROXIES; otherwise the peer is the client.
    if settings.trusted_proxy_list():
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list())


def app_from_env() -> FastAPI:
    """App factory for process managers (`uvicorn --factory server.backend.main:app_from_env`)."""
    return create_app(load_settings())
