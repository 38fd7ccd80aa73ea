"""`GET /metrics`: Prometheus's text format, for a scraper holding METRICS_TOKEN.

Registered only when METRICS_TOKEN is set. The metrics name kiosks and tell how busy the
church is, so the scraper must send `Authorization: Bearer <METRICS_TOKEN>`.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from server.backend.api.deps import BackendDep
from server.backend.core.metrics import render

router = APIRouter(tags=["metrics"])


@router.get("/metrics", summary="Prometheus metrics (bearer METRICS_TOKEN)")
async def metrics(backend: BackendDep, request: Request) -> Response:
    expected = f"Bearer {backend.settings.metrics_token}".encode()
    given = request.headers.get("authorization", "").encode()
    if not hmac.compare_digest(given, expected):
        return PlainTextResponse(
            "Send the scrape with Authorization: Bearer <METRICS_TOKEN>.",
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    # The state gauges read the database and probe the face-service: off the event loop.
    body = await run_in_threadpool(render, backend)
    # The text format every Prometheus release reads (Debian's 2.42 included).
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)
