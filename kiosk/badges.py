"""Checking a member badge offline: Ed25519 signature, known key, not revoked.

Token: ``<base64url(json payload)>.<base64url(signature)>``, payload
``{"v": 1, "kid", "bid", "mid", "iat"}`` (key id, badge id, member id, issued-at in
Unix seconds); the signature covers ``b"sonta-badge-v1." + <first part as ASCII>``.
The key id is the first 8 bytes (hex) of the SHA-256 of the raw public key. Kiosks get
the public keys and the revoked badge ids at sync; the server signs (its
``security/badges.py``) and verifies with this same code.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kiosk.compact import TokenFormatError, parse, unb64
from kiosk.errors import KioskError

DOMAIN = b"sonta-badge-v1."
MAX_BADGE_LENGTH = 1024
NOT_A_BADGE = "This is not a Sonta badge."


class BadgeError(KioskError):
    """A badge that must be refused; the message says why, for the person holding it."""


@dataclass(frozen=True)
class BadgeClaims:
    key_id: str
    badge_id: uuid.UUID
    member_id: uuid.UUID
    issued_at: int


def key_id_of(raw_public_key: bytes) -> str:
    return hashlib.sha256(raw_public_key).digest()[:8].hex()


class BadgeVerifier:
    """Verifies badges against a set of public keys (key id -> raw 32-byte Ed25519 key)."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        self._keys = {kid: Ed25519PublicKey.from_public_bytes(raw) for kid, raw in keys.items()}

    @classmethod
    def from_published(cls, keys: Mapping[str, str]) -> BadgeVerifier:
        """From key id -> base64url raw key, as ``/api/kiosk/badge-keys`` publishes them."""
        return cls({kid: unb64(raw) for kid, raw in keys.items()})

    def verify(self, token: str) -> BadgeClaims:
        """The claims of a genuine badge signed by a known key; ``BadgeError`` otherwise."""
        try:
            parsed = parse(token, max_length=MAX_BADGE_LENGTH, key_field="kid")
        except TokenFormatError:
            raise BadgeError(NOT_A_BADGE) from None
        key = self._keys.get(parsed.key_id)
        if key is None:
            raise BadgeError("This badge was signed with a key no longer in use; reissue it.")
        try:
            key.verify(parsed.signature, DOMAIN + parsed.body.encode())
        except InvalidSignature:
            raise BadgeError("This badge is not genuine.") from None
        return _claims(parsed.claims)

    def check(self, token: str, is_revoked: Callable[[uuid.UUID], bool]) -> BadgeClaims:
        """``verify``, and refuse a badge revoked as of the last sync."""
        claims = self.verify(token)
        if is_revoked(claims.badge_id):
            raise BadgeError("This badge has been cancelled. Please see a staff member.")
        return claims


def _claims(payload: Mapping[str, object]) -> BadgeClaims:
    try:
        if payload["v"] != 1:
            raise ValueError("unknown badge version")
        return BadgeClaims(
            key_id=str(payload["kid"]),
            badge_id=uuid.UUID(str(payload["bid"])),
            member_id=uuid.UUID(str(payload["mid"])),
            issued_at=int(str(payload["iat"])),
        )
    except (KeyError, ValueError, TypeError):
        raise BadgeError(NOT_A_BADGE) from None
