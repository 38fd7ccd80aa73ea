"""Signed, expiring meeting QR codes: HMAC-SHA256 over a compact payload.

Format: ``<base64url(json payload)>.<base64url(hmac)>``. The payload names the key
that signed it (`k`, a short fingerprint of the secret), so QR_SECRET can be rotated
while codes signed with the previous secret expire. Signatures are compared in
constant time, and the MAC covers a domain prefix so no other HMAC in the system can
be replayed as a QR code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from server.backend.core.security.compact import encode, split
from server.backend.errors import AuthError

_DOMAIN = b"sonta-meeting-qr-v1."
MAX_TOKEN_LENGTH = 1024


@dataclass(frozen=True)
class QrClaims:
    meeting_id: uuid.UUID
    issued_at: int
    expires_at: int
    nonce: str


def key_id(secret: str) -> str:
    """A short public fingerprint naming a secret without revealing it."""
    return hashlib.sha256(b"sonta-key-id." + secret.encode()).hexdigest()[:8]


class QrSigner:
    """Signs with the current secret; verifies with the current or a previous one."""

    def __init__(
        self,
        secret: str,
        *,
        previous: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._current = key_id(secret)
        self._keys = {key_id(s): s.encode() for s in (*previous, secret)}
        self._clock = clock

    def sign(self, meeting_id: uuid.UUID, *, lifetime: int) -> tuple[str, QrClaims]:
        now = int(self._clock())
        claims = QrClaims(meeting_id, now, now + lifetime, secrets.token_urlsafe(8))
        payload = {
            "m": str(meeting_id),
            "iat": claims.issued_at,
            "exp": claims.expires_at,
            "n": claims.nonce,
            "k": self._current,
        }
        return encode(payload, lambda body: self._mac(self._current, body)), claims

    def verify(self, token: str) -> QrClaims:
        """The claims of an authentic, unexpired code; AuthError otherwise."""
        body, payload, given, kid = split(
            token,
            max_length=MAX_TOKEN_LENGTH,
            key_field="k",
            refusal="This is not a Sonta meeting code.",
        )
        if kid not in self._keys or not hmac.compare_digest(given, self._mac(kid, body)):
            raise AuthError("This meeting code is not genuine.")
        claims = _claims(payload)
        if claims.expires_at <= self._clock():
            raise AuthError("This meeting code has expired; scan the code on screen again.")
        return claims

    def _mac(self, kid: str, body: str) -> bytes:
        return hmac.new(self._keys[kid], _DOMAIN + body.encode(), hashlib.sha256).digest()


def _claims(payload: object) -> QrClaims:
    if not isinstance(payload, dict):
        raise AuthError("This is not a Sonta meeting code.")
    try:
        return QrClaims(
            meeting_id=uuid.UUID(str(payload["m"])),
            issued_at=int(payload["iat"]),
            expires_at=int(payload["exp"]),
            nonce=str(payload["n"]),
        )
    except (KeyError, ValueError, TypeError):
        raise AuthError("This is not a Sonta meeting code.") from None
