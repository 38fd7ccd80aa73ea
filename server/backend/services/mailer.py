"""Outgoing email: Resend's HTTP API when configured, otherwise the server log.

Without email, the one-time links and codes are written to the log, so an operator
with access to the server can still hand them to the person.
"""

from __future__ import annotations

import logging
from typing import Protocol

import httpx

logger = logging.getLogger(__name__)

RESEND_ENDPOINT = "https://api.resend.com/emails"


class Mailer(Protocol):
    def send(self, *, to: str, subject: str, text: str) -> None: ...


class LogMailer:
    """Writes messages to the server log instead of sending them."""

    def send(self, *, to: str, subject: str, text: str) -> None:
        logger.warning("Email is not configured; message for %s — %s:\n%s", to, subject, text)


class ResendMailer:
    """Sends through Resend; failures are logged, never shown to the requester."""

    def __init__(
        self, *, api_key: str, sender: str, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._sender = sender
        self._client = httpx.Client(
            transport=transport,
            timeout=10.0,
            headers={"Authorization": f"Bearer {api_key}"},
        )

    def send(self, *, to: str, subject: str, text: str) -> None:
        body = {"from": self._sender, "to": [to], "subject": subject, "text": text}
        try:
            response = self._client.post(RESEND_ENDPOINT, json=body)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            # The caller answered the requester already; an operator must see this.
            logger.error("Sending email to %s failed: %s", to, exc)

    def close(self) -> None:
        self._client.close()
