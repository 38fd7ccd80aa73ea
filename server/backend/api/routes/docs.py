"""The interactive API docs (`/api/docs`), served from local assets, never a CDN.

Swagger UI's script and styles come from the `fastapi-offline` package, which ships
them; the page and its start-up script are ours, so no inline code is needed. In
production the docs and the OpenAPI document are off unless API_DOCS=true.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from server.backend.api.routes.pages import static_file
from server.backend.errors import NotFoundError

router = APIRouter(include_in_schema=False)

# Styles and scripts only from the served files: Swagger UI's own styling goes through
# the DOM (not parsed inline styles), so no 'unsafe-inline' (checked in a real browser).
# Its icons come from data: URIs.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self' data: blob:; base-uri 'none'; frame-ancestors 'none'"
)
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}


def _assets_dir() -> Path:
    return Path(str(files("fastapi_offline").joinpath("static")))


@router.get("/api/docs")
async def docs_page() -> FileResponse:
    return static_file("docs.html", csp=DOCS_CSP)


@router.get("/api/docs/assets/{name}")
async def docs_asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise NotFoundError("No such file.")
    return FileResponse(
        _assets_dir() / name,
        media_type=ASSETS[name],
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
