"""Security headers on every response, whatever produced it (a route, an error, a 413).

- `X-Content-Type-Options: nosniff`: a browser never guesses a type (an uploaded photo
  is never run as a script);
- `X-Frame-Options: DENY` and CSP `frame-ancestors 'none'`: no page is framed;
- `Referrer-Policy: no-referrer`: URLs carry QR tokens and one-time links;
- `Strict-Transport-Security` in production: browsers keep to https;
- `Cache-Control: no-store` on API answers that set no caching of their own: tokens,
  tickets and personal data stay out of every cache.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HSTS = "max-age=31536000; includeSubDomains"
FRAME_ANCESTORS = "frame-ancestors 'none'"


class SecurityHeaders:
    """Pure ASGI middleware, so streamed answers pass through untouched."""

    def __init__(self, app: ASGIApp, *, production: bool) -> None:
        self.app = app
        self.production = production

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = str(scope.get("path", "")).startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._add(MutableHeaders(scope=message), api=api)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _add(self, headers: MutableHeaders, *, api: bool) -> None:
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "no-referrer"
        policy = headers.get("Content-Security-Policy")
        if policy is None:
            headers["Content-Security-Policy"] = FRAME_ANCESTORS
        elif "frame-ancestors" not in policy:
            headers["Content-Security-Policy"] = f"{policy.rstrip('; ')}; {FRAME_ANCESTORS}"
        if self.production:
            headers["Strict-Transport-Security"] = HSTS
        if api and "cache-control" not in headers:
            headers["Cache-Control"] = "no-store"
