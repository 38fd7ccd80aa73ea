"""`GET /health` (readiness, each dependency for what it is) and `GET /health/live`.

Top-level status: "healthy" when every part works; "degraded" when the database does
but the cache or the face-service does not, or the request pool is saturated (most
routes still work, and load balancers keep the replica); "unhealthy" with 503 when the
database cannot be reached or its schema is behind the code (`sonta migrate` fixes it).

Both are `async`: liveness touches nothing, and readiness runs its probes at once on a
lane of their own, the database probe on a connection outside the request pool, so
neither waits behind busy workers, and a full pool reads as "busy", not "down".
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from server.backend.api.deps import BackendDep
from server.backend.api.errors import is_signed_in_admin
from server.backend.core.db import pool_usage
from server.backend.tasks.migrate import schema_state

router = APIRouter(tags=["health"])


@router.get("/health", summary="Readiness: each dependency's state")
async def health(backend: BackendDep, request: Request) -> JSONResponse:
    """The state of each part; why a part is unhealthy only for a signed-in admin."""
    probes = backend.lanes.probes
    database, cache_ok, face_service = await asyncio.gather(
        probes.run(schema_state, backend.probe_engine, backend.schema_head),
        probes.run(backend.store.ping),
        probes.run(backend.face_service.health),
    )
    if not is_signed_in_admin(request):
        face_service.pop("detail", None)
    usage = pool_usage(backend.engine)
    busy = bool(usage["limit"]) and usage["in_use"] >= usage["limit"]
    pool: dict[str, Any] = {**usage, "state": "busy" if busy else "ok"}
    trouble = backend.embedded_trouble.current()
    if database == "ok" and trouble is not None:
        database = trouble  # "full", "locked" or "read-only": reads work, writes do not
    if database == "ok" and backend.space_reserve.spent():
        database = "full"  # the sign-in reserve was used and the disk is still nearly full
    database_ok = database in ("ok", "full", "locked", "read-only")
    if not database_ok:
        status = "unhealthy"
    elif (
        database == "ok"
        and cache_ok
        and face_service["status"] == "healthy"
        and pool["state"] == "ok"
    ):
        status = "healthy"
    else:
        status = "degraded"
    body: dict[str, Any] = {
        "status": status,
        "database": database,
        "database_pool": pool,
        "cache": {"state": "ok" if cache_ok else "unavailable", "kind": _store_kind(backend)},
        "face_service": face_service,
        "model": backend.settings.face_model,
        "model_licence": backend.face_model.licence,
    }
    return JSONResponse(body, status_code=200 if database_ok else 503)


@router.get("/health/live", summary="Liveness: the process answers")
async def live() -> dict[str, str]:
    """No dependencies and no worker thread: answers whatever the workers are doing."""
    return {"status": "alive"}


def _store_kind(backend: BackendDep) -> str:
    settings = backend.settings
    return "redis" if settings.redis_host or settings.redis_url else "in-process"


@router.get(
    "/health/ready",
    summary="For platform health checks: face recognition works",
    responses={503: {"description": "the database or the face-service is not working"}},
)
async def ready(backend: BackendDep) -> JSONResponse:
    """200 when the database and the face-service both work, else 503.

    What Docker's HEALTHCHECK and Render's healthCheckPath ask: a server without face
    recognition must not pass a deploy (their start period covers the model's loading),
    while `/health` keeps answering 200 "degraded" for people and dashboards. Probed
    like `/health`: on the probes' own lane and connection, never the request pool.
    """
    probes = backend.lanes.probes
    database, face = await asyncio.gather(
        probes.run(schema_state, backend.probe_engine, backend.schema_head),
        probes.run(backend.face_service.state),
    )
    is_ready = database == "ok" and face.ready
    body = {
        "status": "ready" if is_ready else "not ready",
        "database": database,
        "face_service": face.status,
    }
    return JSONResponse(body, status_code=200 if is_ready else 503)
