"""Check-ins that will not reach the server from this kiosk, and writing them out.

Two kinds: refused for good by the server (its reason kept, e.g. "no such meeting"
after the server was re-deployed empty) and set aside because they could not be read
back here. Either way the attendance they carry would otherwise be lost, so the
operator can write them to a CSV file (`sonta kiosk export-unsent FILE`) for an admin
to enter by hand; the server's admins see the refused ones at `/api/kiosk-refusals`.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from kiosk.errors import StoreError
from kiosk.storage.local_store import LocalStore
from kiosk.storage.outbox_rows import QUARANTINED, row_text

STATES = {"refused": "refused by the server", QUARANTINED: "set aside (unreadable here)"}


@dataclass(frozen=True)
class Unsent:
    """One check-in that will not be sent, with what the kiosk knew of it."""

    key: str
    state: str
    reason: str
    meeting_id: str
    meeting_title: str
    member_id: str
    member_name: str
    method: str
    device_time: str
    recorded_at: str

    @property
    def refused(self) -> bool:
        return self.state == STATES["refused"]


QUERY = (
    "SELECT CAST(o.key AS BLOB), o.state, o.reason, c.meeting_id, "
    "coalesce(c.meeting_title, m.title), c.member_id, coalesce(c.member_name, p.full_name), "
    "c.method, c.device_time, c.recorded_at FROM outbox o "
    "LEFT JOIN checkins c ON c.key = o.key "
    "LEFT JOIN meetings m ON m.meeting_id = c.meeting_id "
    "LEFT JOIN members p ON p.member_id = c.member_id "
    "WHERE o.state IN (?, ?) ORDER BY o.rowid"
)


def unsent(store: LocalStore) -> list[Unsent]:
    """Refused and set-aside check-ins, oldest first."""
    rows = store.db.read(QUERY, ("refused", QUARANTINED))
    return [
        Unsent(
            row_text(row[0]),
            STATES[row[1]],
            *("" if value is None else str(value) for value in tuple(row)[2:]),
        )
        for row in rows
    ]


def reasons(rows: list[Unsent]) -> str:
    """The reasons, most common first: 'no such meeting (100)'."""
    counted = Counter(row.reason for row in rows)
    return "; ".join(f"{reason} ({count})" for reason, count in counted.most_common(5))


def write_csv(rows: list[Unsent], path: Path) -> None:
    """Write `rows` to a new file at `path`; an existing file is never overwritten."""
    try:
        with path.open("x", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow([f.name for f in fields(Unsent)])
            writer.writerows(astuple(row) for row in rows)
            handle.flush()
            os.fsync(handle.fileno())
    except FileExistsError:
        raise StoreError(f"{path} already exists; name a new file to write to.") from None
    except OSError as exc:
        raise StoreError(
            f"Cannot write {path} ({exc.strerror}); choose a folder you can write to."
        ) from None
