"""Reading a queued check-in back from its outbox row, or saying why it cannot be.

A row damaged on disk or edited by hand must not hold back the rows queued behind it:
`read_payload` raises `DamagedRowError` with a reason a person can read, and the store
sets that row aside (state `quarantined`, payload kept as it was) instead of failing the
whole upload.
"""

from __future__ import annotations

import json
from typing import Any

from kiosk.errors import DamagedRowError

# Outbox states: pending (to send), evidence (acknowledged, crop to send), done,
# refused (the server said no for good), quarantined (unreadable here, kept, not sent).
QUARANTINED = "quarantined"


def row_text(raw: bytes | None) -> str:
    """A TEXT column read as bytes, for showing: undecodable bytes become U+FFFD."""
    return "" if raw is None else bytes(raw).decode("utf-8", errors="replace")


def read_payload(key: str, raw: bytes | None) -> dict[str, Any]:
    """The upload item stored for `key` (read as bytes, so bad UTF-8 is caught here too)."""
    if raw is None:
        raise DamagedRowError("its payload is missing")
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DamagedRowError(f"its payload is not text (bad byte at {exc.start})") from None
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DamagedRowError(
            f"its payload is not valid JSON ({exc.msg} at character {exc.pos})"
        ) from None
    if not isinstance(payload, dict):
        raise DamagedRowError("its payload is not a JSON object")
    if payload.get("key") != key:
        raise DamagedRowError(f"its payload names another check-in ({payload.get('key')!r})")
    return payload
