"""Gzip for the kiosk gallery answers, and only for them.

A gallery snapshot is megabytes of JSON that compresses well; Starlette's
GZipMiddleware compresses it chunk by chunk as it streams. Other answers are small, and
some carry tokens next to text a client chose, which is what compression side channels
(BREACH) feed on, so they are left alone.
"""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

COMPRESSED_PATHS = ("/api/kiosk/gallery",)


class GalleryGZip:
    """Routes requests for `COMPRESSED_PATHS` through GZipMiddleware."""

    def __init__(self, app: ASGIApp, minimum_size: int = 1024) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size, compresslevel=6)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in COMPRESSED_PATHS:
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)
