"""The backend's view of the private face-service (health only, for now)."""

from __future__ import annotations

from typing import Any

import httpx


class FaceServiceClient:
    """Asks the face-service how it is; never raises, so /health always answers."""

    def __init__(
        self, base_url: str, *, timeout: float = 1.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport
        )

    def health(self) -> dict[str, Any]:
        """`{"status": ...}` plus the face-service's own report when it answers."""
        try:
            response = self._client.get("/health")
        except httpx.HTTPError:
            return {"status": "unavailable"}
        try:
            report = response.json()
        except ValueError:
            report = None
        if response.status_code != 200 or not isinstance(report, dict):
            return {"status": "unhealthy", "http_status": response.status_code}
        return {**report, "status": str(report.get("status", "healthy"))}

    def close(self) -> None:
        self._client.close()
