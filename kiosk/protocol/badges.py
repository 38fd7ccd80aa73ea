"""Checking a member badge offline: Ed25519 signature, known key, not revoked.

A badge must read from a webcam frame at arm's length, so its QR code is kept small.
Token version 2 (issued today) is 105 bytes written as 168 characters of unpadded
RFC 4648 base32, which a QR code holds in its dense alphanumeric mode (version 7 at
medium error correction; the JSON token of version 1 needed version 12):

    claims    = version (1 byte, 2) | key id (4) | badge id (16) | member id (16)
                | issued-at (4, unsigned big-endian Unix seconds)
    signature = Ed25519 over b"sonta-badge-v2." + claims (64 bytes)

The key id is the first 4 bytes of the SHA-256 of the raw public key; the published
key ids are the first 8 bytes of the same hash, so the short one is their prefix.

Version 1 badges, already printed, still verify: ``<base64url(json payload)>.
<base64url(signature)>``, payload ``{"v": 1, "kid", "bid", "mid", "iat"}``, signature
over ``b"sonta-badge-v1." + <first part as ASCII>``.

Kiosks get the public keys and the revoked badge ids at sync; the server signs (its
``security/badges.py``) and verifies with this same code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kiosk.errors import BadgeError, TokenFormatError
from kiosk.protocol.signed_token import parse, unb64

DOMAIN = b"sonta-badge-v1."
DOMAIN_V2 = b"sonta-badge-v2."
CLAIMS_V2 = struct.Struct(">B4s16s16sI")
SIGNATURE_LENGTH = 64
MAX_BADGE_LENGTH = 1024
NOT_A_BADGE = "This is not a Sonta badge."


@dataclass(frozen=True)
class BadgeClaims:
    key_id: str
    badge_id: uuid.UUID
    member_id: uuid.UUID
    issued_at: int


def key_id_of(raw_public_key: bytes) -> str:
    return hashlib.sha256(raw_public_key).digest()[:8].hex()


def encode_v2(claims: BadgeClaims, sign: Callable[[bytes], bytes]) -> str:
    """The version-2 token of ``claims``; ``sign`` signs the bytes it is given."""
    body = CLAIMS_V2.pack(
        2,
        bytes.fromhex(claims.key_id)[:4],
        claims.badge_id.bytes,
        claims.member_id.bytes,
        claims.issued_at,
    )
    signed = body + sign(DOMAIN_V2 + body)
    return base64.b32encode(signed).decode().rstrip("=")


def _decode_v2(token: str) -> tuple[bytes, bytes]:
    """(claims, signature) of a version-2 token; ``BadgeError`` if it is not one."""
    try:
        raw = base64.b32decode(token + "=" * (-len(token) % 8), casefold=True)
    except (binascii.Error, ValueError):
        raise BadgeError(NOT_A_BADGE) from None
    if len(raw) != CLAIMS_V2.size + SIGNATURE_LENGTH or raw[0] != 2:
        raise BadgeError(NOT_A_BADGE)
    return raw[: CLAIMS_V2.size], raw[CLAIMS_V2.size :]


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
        if len(token) > MAX_BADGE_LENGTH:
            raise BadgeError(NOT_A_BADGE)
        if "." in token:
            return self._verify_v1(token)
        body, signature = _decode_v2(token)
        _version, short_id, badge_id, member_id, issued_at = CLAIMS_V2.unpack(body)
        key_id = next((kid for kid in self._keys if kid.startswith(short_id.hex())), "")
        self._check_signature(key_id, signature, DOMAIN_V2 + body)
        return BadgeClaims(key_id, uuid.UUID(bytes=badge_id), uuid.UUID(bytes=member_id), issued_at)

    def _verify_v1(self, token: str) -> BadgeClaims:
        try:
            parsed = parse(token, max_length=MAX_BADGE_LENGTH, key_field="kid")
        except TokenFormatError:
            raise BadgeError(NOT_A_BADGE) from None
        self._check_signature(parsed.key_id, parsed.signature, DOMAIN + parsed.body.encode())
        return _claims(parsed.claims)

    def _check_signature(self, key_id: str, signature: bytes, signed: bytes) -> None:
        key = self._keys.get(key_id)
        if key is None:
            raise BadgeError("This badge was signed with a key no longer in use; reissue it.")
        try:
            key.verify(signature, signed)
        except InvalidSignature:
            raise BadgeError("This badge is not genuine.") from None

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
