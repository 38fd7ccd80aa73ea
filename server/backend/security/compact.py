"""The compact signed-token format shared by meeting QR codes and member badges.

A token is ``base64url(JSON claims) "." base64url(signature)``, unpadded; what signs
(HMAC for QR codes, Ed25519 for badges) is the caller's business. Parsing checks only
the shape, and every malformed token gets the caller's one refusal message.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from typing import Any

from server.backend.errors import AuthError


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(claims: Mapping[str, Any], sign: Callable[[str], bytes]) -> str:
    """The token for ``claims``; ``sign`` gets the encoded claims and returns the signature."""
    body = b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{body}.{b64(sign(body))}"


def split(
    token: str, *, max_length: int, key_field: str, refusal: str
) -> tuple[str, dict[str, Any], bytes, str]:
    """(encoded claims, claims, signature, key id) of a well-formed token; AuthError else."""
    body, _, signature = token.partition(".")
    if not body or not signature or len(token) > max_length:
        raise AuthError(refusal)
    try:
        claims = json.loads(unb64(body))
        given = unb64(signature)
        key_id = str(claims[key_field])
    except (ValueError, binascii.Error, KeyError, TypeError):
        raise AuthError(refusal) from None
    return body, claims, given, key_id
