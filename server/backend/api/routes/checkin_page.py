"""The phone check-in page (`GET /checkin?token=...`) that a scanned meeting QR opens.

Static files from `server/backend/static/checkin/`: the page's script reads the token
from the address itself (nothing from the request is written into the HTML), trades it
for a ticket at `/api/qr/scan`, then posts the ticket, who it is, a selfie from the front
camera (scaled and compressed in the browser), the head-turn burst when the server asks
for one, and the phone's position when the meeting has a place, to `/api/checkin/phone`.
Script and style are same-origin files, so the CSP needs no `unsafe-inline`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import FileResponse

router = APIRouter(tags=["phone check-in"])

STATIC = Path(__file__).resolve().parents[2] / "static" / "checkin"
# Nothing but these same-origin files may load, and the page may not be framed.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' blob:; media-src 'self' blob: mediastream:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {"Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer"}
ASSET_TYPES = {"checkin.js": "text/javascript", "checkin.css": "text/css"}


@router.get("/checkin", include_in_schema=False)
async def checkin_page() -> FileResponse:
    """The page a meeting's QR code opens on a phone."""
    return FileResponse(
        STATIC / "index.html",
        media_type="text/html",
        headers={**HEADERS, "Cache-Control": "no-cache"},
    )


@router.get("/checkin/assets/{name}", include_in_schema=False)
async def checkin_asset(name: Literal["checkin.js", "checkin.css"]) -> FileResponse:
    """The page's script and style (a fixed list: no path from the request reaches disk)."""
    return FileResponse(
        STATIC / name,
        media_type=ASSET_TYPES[name],
        headers={**HEADERS, "Cache-Control": "no-cache"},
    )
