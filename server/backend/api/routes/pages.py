"""The small browser pages the backend serves: set a password, sign in by link, and the
meeting presenter screen, with their scripts and styles from `server/backend/static`.

Every page is a fixed file: nothing from the request is written into it (scripts read
the address themselves), scripts and styles come only from this server, and the
Content-Security-Policy forbids anything else, inline code and framing included.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from server.backend.errors import NotFoundError

router = APIRouter(tags=["pages"], include_in_schema=False)

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' blob:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}


def static_file(name: str, *, csp: str = PAGE_CSP) -> FileResponse:
    """A file of the static folder by its plain name (no paths), with the page headers."""
    path = STATIC_DIR / name
    if "/" in name or "\\" in name or name.startswith(".") or not path.is_file():
        raise NotFoundError("No such file.")
    return FileResponse(
        path,
        media_type=_TYPES.get(path.suffix, "application/octet-stream"),
        headers={
            "Content-Security-Policy": csp,
            "Cache-Control": "no-cache",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/auth/set-password")
async def set_password_page() -> FileResponse:
    """Where the set-password link (email, or the server log) leads."""
    return static_file("set-password.html")


@router.get("/auth/magic")
async def magic_link_page() -> FileResponse:
    """Where the emailed sign-in link leads."""
    return static_file("magic.html")


@router.get("/favicon.ico")
async def favicon() -> FileResponse:
    """The product's icon, which browsers ask for on every page (an SVG: they all read it)."""
    return static_file("icon.svg")


@router.get("/static/{name}")
async def static_asset(name: str) -> FileResponse:
    """The pages' own scripts and styles."""
    return static_file(name)
