"""Pairs the kiosk on this computer with the server this computer runs (`./run.sh`).

A newcomer runs one command and sees the whole product, so nobody is there to type a
pairing code. This makes one the way an admin would: a local set-up admin account
(``SETUP_ADMIN``, its password random, set through the server's own CLI and never
stored) signs in over HTTP, asks for a one-time code and signs out. Only for a server
on this machine's loopback address.
"""

from __future__ import annotations

import platform
import secrets
import subprocess
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from kiosk.errors import PairingError

if TYPE_CHECKING:
    import httpx

SETUP_ADMIN = "kiosk-setup@example.org"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
READY_TIMEOUT_S = 600.0  # a first start may download the model pack


def _set_password(sonta: Sequence[str], password: str) -> None:
    """Create the set-up admin, or give it a new password if it exists."""
    errors = []
    for action in ("create", "reset-password"):
        result = subprocess.run(
            [*sonta, "admin", action, SETUP_ADMIN],
            input=password + "\n",
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode == 0:
            return
        errors.append(result.stderr.strip() or result.stdout.strip())
    raise PairingError(f"The local set-up admin could not be prepared: {' / '.join(errors)}")


def wait_until_up(client: httpx.Client, timeout: float = READY_TIMEOUT_S) -> None:
    """Wait for the backend to answer /health (it answers 503 while still starting)."""
    import httpx  # noqa: PLC0415 (imported when pairing runs, not at window start)

    deadline = time.monotonic() + timeout
    while True:
        try:
            if client.get("/health").status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise PairingError(f"The local server at {client.base_url} did not start in time.")
        time.sleep(1.0)


def local_pairing_code(
    server_url: str,
    *,
    sonta: Sequence[str] = ("sonta",),
    transport: httpx.BaseTransport | None = None,
    ready_timeout: float = READY_TIMEOUT_S,
) -> str:
    """A one-time pairing code from the server at ``server_url`` on this machine."""
    if urlparse(server_url).hostname not in LOOPBACK:
        raise PairingError("Automatic pairing is only for a server on this computer.")
    import httpx  # noqa: PLC0415

    with httpx.Client(base_url=server_url, transport=transport, timeout=30.0) as client:
        wait_until_up(client, ready_timeout)
        password = secrets.token_urlsafe(24)
        _set_password(sonta, password)
        login = client.post("/api/auth/login", json={"email": SETUP_ADMIN, "password": password})
        if login.status_code != httpx.codes.OK:
            raise PairingError(f"The local set-up admin could not sign in ({login.text}).")
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        try:
            made = client.post(
                "/api/kiosks/pairing-codes",
                json={"name": f"Kiosk on {platform.node() or 'this computer'}"},
                headers=headers,
            )
            if made.status_code != httpx.codes.CREATED:
                raise PairingError(f"The local server made no pairing code ({made.text}).")
            return str(made.json()["code"])
        finally:
            client.post("/api/auth/logout", headers=headers)
