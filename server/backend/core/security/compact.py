"""The compact signed-token format, with the server's refusal for a malformed token.

The format itself (``kiosk.protocol.signed_token``) is shared with kiosks, which verify badges
offline; here a malformed token becomes the caller's one ``AuthError`` message.
"""

from __future__ import annotations

from typing import Any

from kiosk.errors import TokenFormatError
from kiosk.protocol.signed_token import b64, encode, parse, unb64
from server.backend.errors import AuthError

__all__ = ["b64", "encode", "split", "unb64"]


def split(
    token: str, *, max_length: int, key_field: str, refusal: str
) -> tuple[str, dict[str, Any], bytes, str]:
    """(encoded claims, claims, signature, key id) of a well-formed token; AuthError else."""
    try:
        parsed = parse(token, max_length=max_length, key_field=key_field)
    except TokenFormatError:
        raise AuthError(refusal) from None
    return parsed.body, parsed.claims, parsed.signature, parsed.key_id
