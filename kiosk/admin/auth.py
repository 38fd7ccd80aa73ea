"""An admin's sign-in on the desktop app: tokens in the OS keyring, refreshed transparently.

`TokenStore` keeps the access token, the refresh token and the access token's expiry in
the OS keyring (one entry per server, never a plain file: the same backend checks as the
kiosk's device secrets). `RefreshingAuth` is an `httpx.Auth` flow, so every call the
admin client makes refreshes the same way: shortly before the access token expires, or
when the server answers 401, it swaps the refresh token for a new pair (the server
rotates refresh tokens) and sends the request again. When the refresh is refused the
sign-in has ended: the tokens are removed and `SessionEndedError` says so in a sentence.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import httpx
import keyring.errors
from keyring.backend import KeyringBackend

from kiosk.device.credentials import default_backend
from kiosk.errors import AdminError, SessionEndedError

log = logging.getLogger(__name__)

SERVICE = "sonta-admin"
REFUSAL = "The admin app cannot keep your sign-in safely"
REFRESH_PATH = "/api/auth/refresh"
# Refresh this many seconds before the access token's expiry, so a call never races it.
EARLY_SECONDS = 30.0
SESSION_ENDED = "Your sign-in has ended (signed out elsewhere, expired or disabled). Sign in again."
NOT_SIGNED_IN = "You are not signed in. Sign in with your email and password or a one-time code."


@dataclass(frozen=True)
class Tokens:
    access: str
    refresh: str
    expires_at: float  # epoch seconds of the access token's expiry

    @classmethod
    def from_answer(cls, body: dict[str, Any], now: float | None = None) -> Tokens:
        """From the server's token answer (`access_token`, `refresh_token`, `expires_in`)."""
        start = time.time() if now is None else now
        return cls(
            access=str(body["access_token"]),
            refresh=str(body["refresh_token"]),
            expires_at=start + float(body["expires_in"]),
        )


class TokenStore:
    """One admin sign-in per server URL in the OS keyring."""

    def __init__(self, base_url: str, backend: KeyringBackend | None = None) -> None:
        self._backend = backend if backend is not None else default_backend(refusal=REFUSAL)
        self._name = base_url.rstrip("/")

    def load(self) -> Tokens | None:
        try:
            raw = self._backend.get_password(SERVICE, self._name)
        except keyring.errors.KeyringError as exc:
            raise SessionEndedError(
                f"The OS keyring could not be read ({exc}). Unlock it and sign in again."
            ) from exc
        if not raw:
            return None
        try:
            data = json.loads(raw)
            return Tokens(str(data["access"]), str(data["refresh"]), float(data["expires_at"]))
        except (ValueError, KeyError, TypeError):
            log.warning("the stored admin sign-in is malformed; it is ignored")
            return None

    def save(self, tokens: Tokens) -> None:
        data = {"access": tokens.access, "refresh": tokens.refresh, "expires_at": tokens.expires_at}
        try:
            self._backend.set_password(SERVICE, self._name, json.dumps(data))
        except keyring.errors.KeyringError as exc:
            raise AdminError(
                f"The OS keyring refused to keep your sign-in ({exc}). Unlock it and try again."
            ) from exc

    def clear(self) -> None:
        try:
            self._backend.delete_password(SERVICE, self._name)
        except keyring.errors.PasswordDeleteError:
            pass
        except keyring.errors.KeyringError as exc:
            raise AdminError(f"The OS keyring could not remove your sign-in ({exc}).") from exc


class RefreshingAuth(httpx.Auth):
    """Bearer auth that refreshes (early, or on a 401) and retries once; thread-safe."""

    requires_response_body = True

    def __init__(self, store: TokenStore, *, early_seconds: float = EARLY_SECONDS) -> None:
        self._store = store
        self._early = early_seconds
        self._lock = threading.Lock()
        self.refreshes = 0  # how many refreshes this flow made (shown in diagnostics)
        self._ended = False  # the server ended the sign-in: later calls say so too

    def signed_in(self) -> None:
        """A new sign-in was stored."""
        self._ended = False

    def _current(self) -> Tokens:
        tokens = self._store.load()
        if tokens is None:
            raise SessionEndedError(SESSION_ENDED if self._ended else NOT_SIGNED_IN)
        return tokens

    def _end(self, status: int) -> SessionEndedError:
        self._ended = True
        self._store.clear()
        return SessionEndedError(SESSION_ENDED, status=status)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        tokens = self._current()
        if tokens.expires_at - time.time() < self._early:
            tokens = yield from self._refresh_after(request, tokens.access)
        request.headers["Authorization"] = f"Bearer {tokens.access}"
        response = yield request
        if response.status_code != 401:
            return
        tokens = yield from self._refresh_after(request, tokens.access)
        request.headers["Authorization"] = f"Bearer {tokens.access}"
        response = yield request
        if response.status_code == 401:
            raise self._end(401)

    def _refresh_after(
        self, request: httpx.Request, used: str
    ) -> Generator[httpx.Request, httpx.Response, Tokens]:
        """New tokens, unless another call already replaced the access token `used`."""
        with self._lock:
            tokens = self._current()
            if tokens.access != used:
                return tokens
            url = request.url.copy_with(path=REFRESH_PATH, query=None)
            answer = yield httpx.Request("POST", url, json={"refresh_token": tokens.refresh})
            if answer.status_code in (401, 403):
                raise self._end(answer.status_code)
            if answer.status_code >= 400:
                raise AdminError(
                    f"The server could not renew your sign-in (HTTP {answer.status_code}); "
                    "try again in a moment.",
                    status=answer.status_code,
                )
            fresh = Tokens.from_answer(answer.json())
            self._store.save(fresh)
            self.refreshes += 1
            log.info("admin sign-in refreshed")
            return fresh
