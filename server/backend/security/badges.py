"""Member badges: Ed25519-signed QR payloads that kiosks verify offline.

Token: ``<base64url(json payload)>.<base64url(signature)>``, payload
``{"v": 1, "kid", "bid", "mid", "iat"}`` (key id, badge id, member id, issued-at in
Unix seconds); the signature covers ``b"sonta-badge-v1." + <first part as ASCII>``.
Kiosks get the public keys from `/api/kiosk/badge-keys` and revoked badge ids through
gallery sync, so they can check a badge with no network.

The private key is derived from QR_SECRET with HKDF, so every replica signs with the
same key and nothing new needs storing; the key id is the first 8 bytes (hex) of
the SHA-256 of the raw public key. Keys derived from QR_SECRET_PREVIOUS still verify,
so badges survive a rotation until reissued; a badge whose key is gone is refused.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from server.backend.errors import AuthError
from server.backend.security.compact import b64, encode, split

_INFO = b"sonta badge signing v1"
_DOMAIN = b"sonta-badge-v1."
MAX_BADGE_LENGTH = 1024


@dataclass(frozen=True)
class BadgeClaims:
    key_id: str
    badge_id: uuid.UUID
    member_id: uuid.UUID
    issued_at: int


def _derive(secret: str) -> Ed25519PrivateKey:
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode())
    return Ed25519PrivateKey.from_private_bytes(seed)


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_id(public: Ed25519PublicKey) -> str:
    return hashlib.sha256(_raw(public)).digest()[:8].hex()


class BadgeSigner:
    """Signs badges with the current key; verifies with the current or a previous one."""

    def __init__(self, secret: str, *, previous: Sequence[str] = ()) -> None:
        self._private = _derive(secret)
        self.key_id = public_key_id(self._private.public_key())
        keys = [_derive(s).public_key() for s in previous]
        keys.append(self._private.public_key())
        self._public = {public_key_id(k): k for k in keys}

    def public_keys(self) -> dict[str, str]:
        """Key id to raw public key (base64url), current key included."""
        return {kid: b64(_raw(key)) for kid, key in self._public.items()}

    def sign(self, *, badge_id: uuid.UUID, member_id: uuid.UUID, issued_at: int) -> str:
        payload = {
            "v": 1,
            "kid": self.key_id,
            "bid": str(badge_id),
            "mid": str(member_id),
            "iat": issued_at,
        }
        return encode(payload, lambda body: self._private.sign(_DOMAIN + body.encode()))

    def verify(self, token: str) -> BadgeClaims:
        """The claims of a genuine badge signed by a known key; AuthError otherwise."""
        body, payload, given, kid = split(
            token,
            max_length=MAX_BADGE_LENGTH,
            key_field="kid",
            refusal="This is not a Sonta badge.",
        )
        key = self._public.get(kid)
        if key is None:
            raise AuthError("This badge was signed with a key no longer in use; reissue it.")
        try:
            key.verify(given, _DOMAIN + body.encode())
        except InvalidSignature:
            raise AuthError("This badge is not genuine.") from None
        return _claims(payload)


def _claims(payload: dict[str, object]) -> BadgeClaims:
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
        raise AuthError("This is not a Sonta badge.") from None
