"""Reading the unfinished check-ins out of a damaged kiosk database into a healthy one.

A database that fails its integrity check can often still be read row by row: the
damage sits on a few pages (a template, an index) while the outbox rows are intact.
`salvage` copies every outbox row that is not finished (`pending`, `evidence`,
`refused`, `quarantined`) with its check-in into another store, keeping its state, so
unsent check-ins go out after pairing again and refused ones can still be exported.
A whole-table scan is tried first; if a damaged page stops it, each row is looked up
by its rowid, so one bad page costs only the rows on it. Nothing is written to the
damaged file beyond what SQLite needs to open it; rows already present are skipped, so
running it twice saves nothing twice.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kiosk.errors import DamagedRowError, StoreError
from kiosk.storage.local_store import LocalStore
from kiosk.storage.outbox_rows import QUARANTINED, read_payload, row_text

log = logging.getLogger(__name__)

OUTBOX = (
    "CAST(key AS BLOB), CAST(state AS BLOB), CAST(payload AS BLOB), evidence, attempts, "
    "CAST(result AS BLOB), CAST(reason AS BLOB)"
)
CHECKIN = (
    "CAST(key AS BLOB), CAST(meeting_id AS BLOB), CAST(member_id AS BLOB), CAST(method AS BLOB), "
    "CAST(status AS BLOB), similarity, CAST(device_time AS BLOB), CAST(recorded_at AS BLOB)"
)
UNFINISHED = ("pending", "evidence", "refused", QUARANTINED)


@dataclass(frozen=True)
class Salvaged:
    """What one salvage did: rows copied, rows already there, rows that could not be read."""

    saved: int
    already_there: int
    unreadable: int
    set_aside: int = 0  # of `saved`: check-ins whose upload item was lost, kept set aside

    def sentence(self) -> str:
        text = f"{self.saved} unfinished check-in(s) were read back from it"
        if self.set_aside:
            text += (
                f", {self.set_aside} of them set aside because their upload could not be "
                "read (`sonta kiosk status` lists them)"
            )
        if self.already_there:
            text += f" ({self.already_there} were already here)"
        if self.unreadable:
            text += f"; {self.unreadable} row(s) could not be read and stay only in that file"
        return text + "."


def _open(source: Path) -> sqlite3.Connection:
    if not source.is_file():
        raise StoreError(f"{source} is not a file; name the damaged kiosk.db copy to read.")
    try:
        conn = sqlite3.connect(source, isolation_level=None, timeout=10)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"Nothing can be read from {source} ({exc}): it is not a kiosk database or its "
            "first page is destroyed. Keep the file; its check-ins cannot be read back here."
        ) from exc
    return conn


def _rows(
    conn: sqlite3.Connection, table: str, columns: str
) -> Iterator[tuple[object, ...] | None]:
    """Every row of `table` (None for one that cannot be read): a scan, else rowid by rowid."""
    last = 0
    try:
        scan = f"SELECT rowid, {columns} FROM {table} ORDER BY rowid"  # noqa: S608 - constants
        for row in conn.execute(scan):
            last = int(row[0])
            yield tuple(row[1:])
        return
    except sqlite3.DatabaseError as exc:
        log.warning("%s scan stopped after row %d (%s); reading row by row", table, last, exc)
    try:
        (highest,) = conn.execute(f"SELECT max(rowid) FROM {table}").fetchone()  # noqa: S608
    except sqlite3.DatabaseError:
        highest = None
    # Rows are only ever appended, so rowids run 1..max; without max, read until a long gap.
    one = f"SELECT {columns} FROM {table} WHERE rowid = ?"  # noqa: S608 - constants
    rowid, misses = last + 1, 0
    while (highest is not None and rowid <= highest) or (highest is None and misses < 1000):
        try:
            row = conn.execute(one, (rowid,)).fetchone()
        except sqlite3.DatabaseError:
            yield None
        else:
            misses = 0 if row is not None else misses + 1
            if row is not None:
                yield tuple(row)
        rowid += 1


REBUILT = (
    "its upload item could not be read back from a damaged database; the check-in itself "
    "(meeting, member, time) was, and is kept here to be exported, not sent"
)


def _checkins(conn: sqlite3.Connection) -> dict[str, tuple[object, ...]]:
    """The readable check-in rows by key (their columns after the key)."""
    found: dict[str, tuple[object, ...]] = {}
    for row in _rows(conn, "checkins", CHECKIN):
        if row is not None:
            found[row_text(row[0])] = row[1:]  # type: ignore[arg-type]
    return found


def _from_payload(key: str, payload: bytes | None) -> tuple[object, ...] | None:
    """The check-in's columns rebuilt from its upload item, when its own row is lost."""
    try:
        item = read_payload(key, payload)
        return (
            str(item["meeting_id"]),
            str(item["member_id"]),
            str(item["method"]),
            "approved",
            float(item["similarity"]),
            str(item["device_time"]),
            str(item["device_time"]),
        )
    except (DamagedRowError, KeyError, TypeError, ValueError):
        return None


def salvage(source: Path, into: LocalStore) -> Salvaged:
    """Copy the unfinished outbox rows of `source` (and their check-ins) into `into`.

    A check-in whose outbox row is lost but whose own row was read comes along set
    aside (`quarantined`, nothing to send): its meeting, member and time are kept.
    """
    conn = _open(source)
    found: list[tuple[str, str, tuple[object, ...], tuple[object, ...]]] = []
    seen: set[str] = set()
    unreadable = 0
    try:
        checkins = _checkins(conn)
        for row in _rows(conn, "outbox", OUTBOX):
            if row is None:
                unreadable += 1
                continue
            key, state = row_text(row[0]), row_text(row[1])  # type: ignore[arg-type]
            seen.add(key)
            if state not in UNFINISHED:
                continue
            checkin = checkins.get(key) or _from_payload(key, row[2])  # type: ignore[arg-type]
            if checkin is None:
                unreadable += 1
            else:
                found.append((key, state, row, checkin))
    finally:
        conn.close()
    lost = [key for key in checkins if key not in seen]
    orphans = (None, QUARANTINED.encode(), None, None, 0, None, REBUILT.encode())
    found += [(key, QUARANTINED, orphans, checkins[key]) for key in lost]
    unreadable = max(unreadable - len(lost), 0)
    with into.db.write() as db:
        saved = sum(_adopt(db, *entry) for entry in found)
    log.info("salvaged %d check-in(s) from %s (%d unreadable)", saved, source, unreadable)
    return Salvaged(saved, len(found) - saved, unreadable, set_aside=len(lost))


def _kept(value: object) -> object:
    """A TEXT column's value as read (bytes): text again if it is UTF-8, else the bytes."""
    if not isinstance(value, bytes):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value  # kept byte for byte; the outbox sets such a row aside when sending


def _adopt(
    db: sqlite3.Connection,
    key: str,
    state: str,
    row: tuple[object, ...],
    checkin: tuple[object, ...],
) -> bool:
    """Insert one check-in with its outbox row; False when it (or its person) is already here."""
    added = db.execute(
        "INSERT OR IGNORE INTO checkins (key, meeting_id, member_id, method, status, "
        "similarity, device_time, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (key, *(_kept(v) for v in checkin)),
    ).rowcount
    if not added:
        return False
    db.execute(
        "INSERT INTO outbox (key, state, payload, evidence, attempts, result, reason) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (key, state, *(_kept(v) for v in row[2:])),
    )
    return True
