"""`GET /health`: database, cache and face-service state.

Top-level status: "healthy" when every part works; "degraded" when the database does
but the cache or the face-service does not (most routes still work, and load balancers
keep the replica); "unhealthy" with 503 when the database cannot be reached or its
schema is behind the code (the backend would fail every request; `sonta migrate` fixes
it).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from server.backend.api.deps import BackendDep
from server.backend.api.errors import is_signed_in_admin
from server.backend.migrate import schema_state

router = APIRouter(tags=["health"])


@router.get("/health", summary="Service health")
def health(backend: BackendDep, request: Request) -> JSONResponse:
    """The state of each part; why a part is unhealthy only for a signed-in admin."""
    database = schema_state(backend.engine, backend.schema_head)
    database_ok = database == "ok"
    cache_ok = backend.store.ping()
    face_service = backend.face_service.health()
    if not is_signed_in_admin(request):
        face_service.pop("detail", None)
    if not database_ok:
        status = "unhealthy"
    elif cache_ok and face_service["status"] == "healthy":
        status = "healthy"
    else:
        status = "degraded"
    body: dict[str, Any] = {
        "status": status,
        "database": database,
        "cache": {"state": "ok" if cache_ok else "unavailable", "kind": _store_kind(backend)},
        "face_service": face_service,
        "model": backend.settings.face_model,
    }
    return JSONResponse(body, status_code=200 if database_ok else 503)


@router.get("/health/live", summary="Liveness: the process answers")
def live() -> dict[str, str]:
    """No dependencies touched: for liveness probes that must not fail with the database."""
    return {"status": "alive"}


def _store_kind(backend: BackendDep) -> str:
    settings = backend.settings
    return "redis" if settings.redis_host or settings.redis_url else "in-process"
