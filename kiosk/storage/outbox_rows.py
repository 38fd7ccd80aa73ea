"""Reading a queued check-in back from its outbox row, or saying why it cannot be.

A row damaged on disk or edited by hand must not hold back the rows queued behind it:
`read_payload` raises `DamagedRowError` with a reason a person can read, and the store
sets that row aside (state `quarantined`, payload kept as it was) instead of failing the
whole upload.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from kiosk.errors import DamagedRowError
from kiosk.storage.sealing import EVIDENCE_MARK, is_sealed_item, seal_evidence, seal_item

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


# Rows holding face data in clear: queued by a release before sealing, or salvaged from one.
PLAIN_ROWS = (
    "SELECT rowid, CAST(key AS BLOB), CAST(payload AS BLOB), evidence FROM outbox "
    "WHERE instr(payload, '\"probe\"') OR instr(payload, '\"face\"') "
    "OR (evidence IS NOT NULL AND substr(evidence, 1, ?) != ?)"
)


def plain_rows(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return list(conn.execute(PLAIN_ROWS, (len(EVIDENCE_MARK), EVIDENCE_MARK)))


def seal_plain_rows(conn: sqlite3.Connection, key: Callable[[], bytes]) -> int:
    """Seal, in the caller's transaction, the face data still in clear; how many fields it sealed.

    A payload that cannot be read back is left byte for byte as it is (it will be set
    aside when its turn comes); its evidence crop is sealed all the same.
    """
    changed = 0
    for rowid, raw_key, raw_payload, evidence in plain_rows(conn):
        checkin_key = row_text(raw_key)
        try:
            item = read_payload(checkin_key, raw_payload) if raw_payload is not None else None
        except DamagedRowError:
            item = None
        if item is not None and not is_sealed_item(item):
            sealed = json.dumps(seal_item(key(), item), separators=(",", ":"))
            conn.execute("UPDATE outbox SET payload = ? WHERE rowid = ?", (sealed, rowid))
            changed += 1
        if evidence is not None and not bytes(evidence).startswith(EVIDENCE_MARK):
            crop = seal_evidence(key(), checkin_key, bytes(evidence))
            conn.execute("UPDATE outbox SET evidence = ? WHERE rowid = ?", (crop, rowid))
            changed += 1
    return changed
