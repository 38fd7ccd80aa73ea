"""JWT access and refresh tokens: HS256 only, typed, time-checked, in rotating families.

Access and refresh tokens are signed with different keys *and* carry a `typ` claim, so
neither can stand in for the other. Each sign-in starts a family whose current refresh
token id is kept in the database (`crud.refresh_families`); refreshing swaps it
atomically with one winner, a retry of the token just replaced gets the same successor
for `REUSE_GRACE_SECONDS`, and any other reuse (a sign that a token was stolen) revokes
the family, which also ends every access token of that family (RFC 9700).
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import jwt

from server.backend.crud.refresh_families import RefreshFamilies
from server.backend.errors import AuthError

ALGORITHM = "HS256"
ISSUER = "sonta-attendance"
LEEWAY_SECONDS = 10
# A lost answer's retry, or a concurrent refresh by a second tab, within this many
# seconds gets the same successor instead of ending the sign-in.
REUSE_GRACE_SECONDS = 30
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
        families: RefreshFamilies,
        clock: Callable[[], float] = time.time,
        reuse_grace: int = REUSE_GRACE_SECONDS,
    ) -> None:
        self._secrets: dict[TokenType, str] = {"access": access_secret, "refresh": refresh_secret}
        self._ttl: dict[TokenType, int] = {"access": access_ttl, "refresh": refresh_ttl}
        self.families = families
        self._clock = clock
        self._grace = reuse_grace

    def issue(self, admin_id: uuid.UUID, session_version: int) -> TokenPair:
        """Start a new family (a sign-in) and return its first pair."""
        family = secrets.token_urlsafe(16)
        refresh_jti = secrets.token_urlsafe(16)
        now = int(self._clock())
        self.families.start(
            family=family,
            admin_id=admin_id,
            jti=refresh_jti,
            issued_at=now,
            expires_at=now + self._ttl["refresh"],
        )
        return self._pair(admin_id, session_version, family, refresh_jti, now)

    def rotate(self, refresh_token: str) -> tuple[TokenClaims, TokenPair]:
        """Exchange a current refresh token for a new pair (see the module docstring)."""
        claims = self.verify(refresh_token, "refresh")
        now = int(self._clock())
        rotation = self.families.rotate(
            family=claims.family,
            presented=claims.jti,
            new_jti=secrets.token_urlsafe(16),
            now=now,
            expires_at=now + self._ttl["refresh"],
            grace=self._grace,
        )
        if rotation.outcome == "reused":
            raise AuthError("This refresh token was already used; every session it began is ended.")
        if rotation.outcome == "ended":
            raise AuthError("This session has ended; please sign in again.")
        pair = self._pair(
            claims.admin_id, claims.session_version, claims.family, rotation.jti, rotation.issued_at
        )
        return claims, pair

    def revoke_family(self, family: str) -> None:
        self.families.revoke(family)

    def now(self) -> int:
        """This service's clock, in whole seconds (refresh families expire by it)."""
        return int(self._clock())

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
        self,
        admin_id: uuid.UUID,
        session_version: int,
        family: str,
        refresh_jti: str,
        refresh_issued_at: int,
    ) -> TokenPair:
        """A fresh access token; the refresh token is the same bytes for the same id and time."""
        now = int(self._clock())
        access = self._encode(
            "access", admin_id, session_version, family, secrets.token_urlsafe(16), now=now
        )
        refresh = self._encode(
            "refresh", admin_id, session_version, family, refresh_jti, now=refresh_issued_at
        )
        return TokenPair(access_token=access, refresh_token=refresh, expires_in=self._ttl["access"])

    def _encode(
        self, typ: TokenType, admin_id: uuid.UUID, sv: int, family: str, jti: str, *, now: int
    ) -> str:
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
