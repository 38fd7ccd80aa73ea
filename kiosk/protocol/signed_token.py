"""The compact signed-token format of meeting QR codes and member badges.

A token is ``base64url(JSON claims) "." base64url(signature)``, unpadded; what signs
(HMAC for QR codes, Ed25519 for badges) is the caller's business. It lives in the
kiosk core because kiosks verify badges offline; the server imports it from here.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kiosk.errors import TokenFormatError


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(claims: Mapping[str, Any], sign: Callable[[str], bytes]) -> str:
    """The token for ``claims``; ``sign`` gets the encoded claims and returns the signature."""
    body = b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{body}.{b64(sign(body))}"


@dataclass(frozen=True)
class ParsedToken:
    body: str  # the encoded claims, exactly as signed
    claims: dict[str, Any]
    signature: bytes
    key_id: str


def parse(token: str, *, max_length: int, key_field: str) -> ParsedToken:
    """The parts of a well-formed token; ``TokenFormatError`` for anything else."""
    body, _, signature = token.partition(".")
    if not body or not signature or len(token) > max_length:
        raise TokenFormatError("not a signed token")
    try:
        claims = json.loads(unb64(body))
        given = unb64(signature)
        key_id = str(claims[key_field])
    except (ValueError, binascii.Error, KeyError, TypeError):
        raise TokenFormatError("not a signed token") from None
    if not isinstance(claims, dict):
        raise TokenFormatError("not a signed token")
    return ParsedToken(body, claims, given, key_id)
