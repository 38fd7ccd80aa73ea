"""Kiosk device credentials: HS256 JWTs of type "kiosk", scoped to kiosk duties.

The signing key is derived from JWT_ACCESS_SECRET with HMAC under its own label, so a
kiosk credential can never verify as an admin access token or the other way round,
even before the `typ` check. A credential names its kiosk (`sub`); every request
re-reads that kiosk's row, so revoking a kiosk refuses its very next request however
long the credential itself would still be valid.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from server.backend.core.security.tokens import ALGORITHM, ISSUER, LEEWAY_SECONDS
from server.backend.errors import AuthError

TOKEN_TYPE = "kiosk"  # noqa: S105 - a claim value, not a secret
SCOPE = "kiosk"
# A device credential outlives any meeting season; heartbeats renew it well before.
CREDENTIAL_TTL = 400 * 24 * 3600
RENEW_WHEN_LEFT = 30 * 24 * 3600
# A credential bound to a device secret lives a day: the kiosk renews it with the
# secret (which rotates), so a credential copied off the kiosk soon stops working.
BOUND_CREDENTIAL_TTL = 24 * 3600
_KEY_LABEL = b"sonta kiosk credential v1"


@dataclass(frozen=True)
class KioskClaims:
    kiosk_id: uuid.UUID
    expires_at: int

    def should_renew(self, now: float) -> bool:
        return self.expires_at - now < RENEW_WHEN_LEFT


class KioskCredentials:
    """Issues and verifies kiosk credentials."""

    def __init__(self, access_secret: str, *, clock: Callable[[], float] = time.time) -> None:
        self._key = hmac.new(access_secret.encode(), _KEY_LABEL, hashlib.sha256).digest()
        self._clock = clock

    def now(self) -> float:
        return self._clock()

    def issue(self, kiosk_id: uuid.UUID, *, ttl: int = CREDENTIAL_TTL) -> str:
        now = int(self._clock())
        claims = {
            "iss": ISSUER,
            "sub": str(kiosk_id),
            "typ": TOKEN_TYPE,
            "scope": SCOPE,
            "jti": secrets.token_urlsafe(12),
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"typ": "JWT"})

    def verify(self, token: str) -> KioskClaims:
        """The kiosk a genuine, current kiosk credential names; AuthError otherwise."""
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "nbf", "iat", "sub", "typ", "scope"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("The kiosk credential has expired; pair the kiosk again.") from None
        except jwt.PyJWTError:
            raise AuthError("This is not a valid kiosk credential.") from None
        if payload.get("typ") != TOKEN_TYPE or payload.get("scope") != SCOPE:
            raise AuthError("A kiosk credential is required here.")
        try:
            return KioskClaims(uuid.UUID(str(payload["sub"])), int(payload["exp"]))
        except (ValueError, TypeError):
            raise AuthError("This is not a valid kiosk credential.") from None
