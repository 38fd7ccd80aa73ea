"""Display links: a signed key that lets one screen show one meeting's presenter page.

A projector or TV should not hold an admin's sign-in. The key names one meeting, its
display link's row (`l`, so the link can be listed and revoked alone) and an expiry. It
is signed with QR_SECRET under its own domain prefix (so it can never pass as a meeting
code, nor a code as a key), and grants nothing but that meeting's presenter view:
title, count present and the rotating QR code.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from server.backend.core.security.compact import encode, split
from server.backend.core.security.qr import key_id
from server.backend.errors import AuthError

_DOMAIN = b"sonta-display-link-v1."
MAX_KEY_LENGTH = 512
REFUSAL = "This display link is not valid; ask an admin for a new one."


@dataclass(frozen=True)
class DisplayClaims:
    meeting_id: uuid.UUID
    expires_at: int
    link_id: uuid.UUID | None  # None: a key made before links had rows


class DisplaySigner:
    """Signs with the current QR secret; verifies with the current or a previous one."""

    def __init__(
        self, secret: str, *, previous: Sequence[str] = (), clock: Callable[[], float] = time.time
    ) -> None:
        self._current = key_id(secret)
        self._keys = {key_id(s): s.encode() for s in (*previous, secret)}
        self._clock = clock

    def sign(
        self, meeting_id: uuid.UUID, *, expires_at: int, link_id: uuid.UUID | None = None
    ) -> str:
        payload = {"d": str(meeting_id), "exp": expires_at, "k": self._current}
        if link_id is not None:
            payload["l"] = str(link_id)
        return encode(payload, lambda body: self._mac(self._current, body))

    def verify(self, key: str, *, meeting_id: uuid.UUID) -> DisplayClaims:
        """The claims of an authentic, unexpired key for this meeting; AuthError otherwise."""
        body, payload, given, kid = split(
            key, max_length=MAX_KEY_LENGTH, key_field="k", refusal=REFUSAL
        )
        if kid not in self._keys or not hmac.compare_digest(given, self._mac(kid, body)):
            raise AuthError(REFUSAL)
        try:
            link = payload.get("l")
            claims = DisplayClaims(
                uuid.UUID(str(payload["d"])),
                int(payload["exp"]),
                uuid.UUID(str(link)) if link is not None else None,
            )
        except (KeyError, ValueError, TypeError):
            raise AuthError(REFUSAL) from None
        if claims.meeting_id != meeting_id:
            raise AuthError("This display link is for another meeting.")
        if claims.expires_at <= self._clock():
            raise AuthError("This display link has expired; ask an admin for a new one.")
        return claims

    def _mac(self, kid: str, body: str) -> bytes:
        return hmac.new(self._keys[kid], _DOMAIN + body.encode(), hashlib.sha256).digest()
