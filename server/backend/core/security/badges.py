"""Member badges: Ed25519-signed QR payloads that kiosks verify offline.

The token format and its verification live in ``kiosk.protocol.badges`` (kiosks check badges
with no network, and the kiosk core never imports the server); this module signs.
Kiosks get the public keys from `/api/kiosk/badge-keys` and revoked badge ids through
gallery sync.

The private key is derived from QR_SECRET with HKDF, so every replica signs with the
same key and nothing new needs storing; the key id is the first 8 bytes (hex) of
the SHA-256 of the raw public key. Keys derived from QR_SECRET_PREVIOUS still verify,
so badges survive a rotation until reissued; a badge whose key is gone is refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kiosk.errors import BadgeError
from kiosk.protocol.badges import DOMAIN, BadgeClaims, BadgeVerifier, encode_v2, key_id_of
from server.backend.core.security.compact import b64, encode
from server.backend.errors import AuthError

__all__ = ["BadgeClaims", "BadgeSigner", "public_key_id"]

_INFO = b"sonta badge signing v1"


def _derive(secret: str) -> Ed25519PrivateKey:
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode())
    return Ed25519PrivateKey.from_private_bytes(seed)


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_id(public: Ed25519PublicKey) -> str:
    return key_id_of(_raw(public))


class BadgeSigner:
    """Signs badges with the current key; verifies with the current or a previous one."""

    def __init__(self, secret: str, *, previous: Sequence[str] = ()) -> None:
        self._private = _derive(secret)
        self.key_id = public_key_id(self._private.public_key())
        keys = [_derive(s).public_key() for s in previous]
        keys.append(self._private.public_key())
        self._public = {public_key_id(k): _raw(k) for k in keys}
        self._verifier = BadgeVerifier(self._public)

    def public_keys(self) -> dict[str, str]:
        """Key id to raw public key (base64url), current key included."""
        return {kid: b64(raw) for kid, raw in self._public.items()}

    def sign(self, *, badge_id: uuid.UUID, member_id: uuid.UUID, issued_at: int) -> str:
        """Today's (version 2, compact) token; see ``kiosk.protocol.badges`` for the format."""
        claims = BadgeClaims(self.key_id, badge_id, member_id, issued_at)
        return encode_v2(claims, self._private.sign)

    def sign_v1(self, *, badge_id: uuid.UUID, member_id: uuid.UUID, issued_at: int) -> str:
        """A version-1 (JSON) token, as badges printed before version 2 carry."""
        payload = {
            "v": 1,
            "kid": self.key_id,
            "bid": str(badge_id),
            "mid": str(member_id),
            "iat": issued_at,
        }
        return encode(payload, lambda body: self._private.sign(DOMAIN + body.encode()))

    def verify(self, token: str) -> BadgeClaims:
        """The claims of a genuine badge signed by a known key; AuthError otherwise."""
        try:
            return self._verifier.verify(token)
        except BadgeError as exc:
            raise AuthError(str(exc)) from None
