"""Outgoing email: Resend's HTTP API when configured.

Without email, a message (it carries one-time links and codes) is never written to a
log: in development it is printed once on the console, with a warning, so whoever
started the server can use it; in production it is not sent at all, and the log says
how to set a password on the server instead (`sonta admin reset-password`).

Each mailer says whether it `delivers`: when it does not, the API tells whoever asked
that nothing was emailed (and gives an inviting super admin the one-time link to pass
on), instead of claiming a message is on its way.
"""

from __future__ import annotations

import logging
import sys
from typing import Protocol, TextIO

import httpx

from server.backend.core.logs import mask_email

logger = logging.getLogger(__name__)

RESEND_ENDPOINT = "https://api.resend.com/emails"


class Mailer(Protocol):
    delivers: bool  # False: messages reach no inbox (not configured)

    def send(self, *, to: str, subject: str, text: str) -> None: ...


class ConsoleMailer:
    """Development without email: each message printed once on the console, not logged."""

    delivers = False

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def send(self, *, to: str, subject: str, text: str) -> None:
        logger.warning(
            "Email is not configured; the message for %s (%s) is printed on the console",
            mask_email(to),
            subject,
        )
        banner = "=" * 72
        print(
            f"{banner}\nDEVELOPMENT ONLY, not sent (no RESEND_API_KEY/EMAIL_FROM): this "
            f"one-time message is shown here once.\nTo: {to}\nSubject: {subject}\n\n{text}"
            f"\n{banner}",
            file=self._stream or sys.stderr,
            flush=True,
        )


class UnsentMailer:
    """Production without email: nothing is sent, and nothing secret is written anywhere."""

    delivers = False

    def send(self, *, to: str, subject: str, text: str) -> None:
        logger.error(
            "Email is not configured (RESEND_API_KEY, EMAIL_FROM): '%s' for %s was not "
            "sent. Set up email, or set the password on the server with "
            "`sonta admin reset-password EMAIL`.",
            subject,
            mask_email(to),
        )


class ResendMailer:
    """Sends through Resend; failures are logged, never shown to the requester."""

    delivers = True

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
