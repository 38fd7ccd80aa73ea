"""JWT access and refresh tokens: HS256 only, typed, time-checked, in rotating families.

Access and refresh tokens are signed with different keys *and* carry a `typ` claim, so
neither can stand in for the other. Each sign-in starts a family whose current refresh
token id is kept in the shared store; refreshing swaps it atomically, and presenting a
superseded token (a sign that it was stolen) deletes the family, which also ends every
access token of that family.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import jwt

from server.backend.errors import AuthError
from server.backend.store import KeyValueStore

ALGORITHM = "HS256"
ISSUER = "sonta-attendance"
LEEWAY_SECONDS = 10
TokenType = Literal["access", "refresh"]


@dataclass(frozen=True)
class TokenClaims:
    """The verified content of a token."""

    admin_id: uuid.UUID
    typ: TokenType
    family: str
    jti: str
    session_version: int
    expires_at: int


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


class TokenService:
    """Issues, verifies, rotates and revokes tokens."""

    def __init__(
        self,
        *,
        access_secret: str,
        refresh_secret: str,
        access_ttl: int,
        refresh_ttl: int,
        store: KeyValueStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secrets: dict[TokenType, str] = {"access": access_secret, "refresh": refresh_secret}
        self._ttl: dict[TokenType, int] = {"access": access_ttl, "refresh": refresh_ttl}
        self._store = store
        self._clock = clock

    def issue(self, admin_id: uuid.UUID, session_version: int) -> TokenPair:
        """Start a new family (a sign-in) and return its first pair."""
        family = secrets.token_urlsafe(16)
        refresh_jti = secrets.token_urlsafe(16)
        self._store.set(self._family_key(family), refresh_jti, ttl=self._ttl["refresh"])
        return self._pair(admin_id, session_version, family, refresh_jti)

    def rotate(self, refresh_token: str) -> tuple[TokenClaims, TokenPair]:
        """Exchange a current refresh token for a new pair; reuse revokes the family."""
        claims = self.verify(refresh_token, "refresh")
        new_jti = secrets.token_urlsafe(16)
        key = self._family_key(claims.family)
        outcome = self._store.compare_and_swap(key, claims.jti, new_jti, ttl=self._ttl["refresh"])
        if outcome == 0:
            self._store.delete(key)
            raise AuthError("This refresh token was already used; every session it began is ended.")
        if outcome < 0:
            raise AuthError("This session has ended; please sign in again.")
        return claims, self._pair(claims.admin_id, claims.session_version, claims.family, new_jti)

    def revoke_family(self, family: str) -> None:
        self._store.delete(self._family_key(family))

    def family_alive(self, family: str) -> bool:
        return self._store.get(self._family_key(family)) is not None

    def verify(self, token: str, expected: TokenType) -> TokenClaims:
        """Check signature, algorithm, type and times; raise AuthError on any failure."""
        try:
            payload = jwt.decode(
                token,
                self._secrets[expected],
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "nbf", "iat", "sub", "typ", "jti", "fam", "sv"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("The token has expired.") from None
        except jwt.PyJWTError:
            raise AuthError("The token is not valid.") from None
        if payload.get("typ") != expected:
            raise AuthError(f"An {expected} token is required here.")
        iat = payload["iat"]
        if not isinstance(iat, int | float) or iat > self._clock() + LEEWAY_SECONDS:
            raise AuthError("The token was issued in the future.")
        return _claims(payload)

    def _pair(
        self, admin_id: uuid.UUID, session_version: int, family: str, refresh_jti: str
    ) -> TokenPair:
        access = self._encode(
            "access", admin_id, session_version, family, secrets.token_urlsafe(16)
        )
        refresh = self._encode("refresh", admin_id, session_version, family, refresh_jti)
        return TokenPair(access_token=access, refresh_token=refresh, expires_in=self._ttl["access"])

    def _encode(self, typ: TokenType, admin_id: uuid.UUID, sv: int, family: str, jti: str) -> str:
        now = int(self._clock())
        claims = {
            "iss": ISSUER,
            "sub": str(admin_id),
            "typ": typ,
            "fam": family,
            "sv": sv,
            "jti": jti,
            "iat": now,
            "nbf": now,
            "exp": now + self._ttl[typ],
        }
        return jwt.encode(claims, self._secrets[typ], algorithm=ALGORITHM, headers={"typ": "JWT"})

    @staticmethod
    def _family_key(family: str) -> str:
        return f"auth:family:{family}"


def _claims(payload: dict[str, Any]) -> TokenClaims:
    try:
        return TokenClaims(
            admin_id=uuid.UUID(str(payload["sub"])),
            typ=payload["typ"],
            family=str(payload["fam"]),
            jti=str(payload["jti"]),
            session_version=int(payload["sv"]),
            expires_at=int(payload["exp"]),
        )
    except (ValueError, TypeError):
        raise AuthError("The token is not valid.") from None
