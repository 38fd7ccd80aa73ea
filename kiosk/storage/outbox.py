"""The check-ins this kiosk made and its outbox of those not yet acknowledged.

A check-in is committed with its outbox row in one transaction before `record`
returns, so a confirmation shown to a person is never lost (kill -9, power cut). The
sync worker sends outbox rows in batches and marks them with the server's answers;
rows stay until the server has acknowledged them. A row that cannot be read back is set
aside with its reason (`kiosk.storage.outbox_rows`) and the rest still go. A check-in's
face data (probe, crops) is sealed with the outbox key before it is written
(`kiosk.storage.sealing`); rows a release before sealing left in clear are sealed when
the store opens with the key.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kiosk.errors import CredentialError, DamagedRowError
from kiosk.protocol.checkins import NewCheckin, RecordOutcome
from kiosk.protocol.wire import checkin_item
from kiosk.storage.database import Database
from kiosk.storage.outbox_rows import (
    QUARANTINED,
    plain_rows,
    read_payload,
    row_text,
    seal_plain_rows,
)
from kiosk.storage.sealing import open_evidence, open_item, seal_evidence, seal_item
from kiosk.syncing.status import SyncStatus

log = logging.getLogger(__name__)

# Server answers that mean "send it again later" rather than a final refusal.
RETRYABLE_REASONS = ("send it again",)


@dataclass(frozen=True)
class OutboxItem:
    key: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class SetAside:
    """A queued check-in that could not be read back: kept, not sent, shown to the operator."""

    key: str
    reason: str


def _now() -> datetime:
    return datetime.now(UTC)


class Outbox:
    """Check-ins and their outbox rows in `db` (thread-safe).

    `outbox_key` returns the key that seals queued check-ins' face data
    (`CredentialStore.outbox_key`); without one, rows can be read, exported and
    salvaged but check-ins cannot be recorded or sent. `status`, when given, has its
    `queue_depth` and `set_aside` kept current.
    """

    def __init__(
        self,
        db: Database,
        *,
        outbox_key: Callable[[], bytes] | None = None,
        status: SyncStatus | None = None,
    ) -> None:
        self.db = db
        self._outbox_key_source = outbox_key
        self._outbox_key_value: bytes | None = None
        self._status = status

    def _outbox_key(self) -> bytes:
        """The outbox key, read from the keyring once (a keyring call costs a D-Bus trip)."""
        if self._outbox_key_value is None:
            if self._outbox_key_source is None:
                raise CredentialError(
                    "This kiosk's store was opened without its outbox key, so it cannot "
                    "record or send check-ins; start the kiosk with `sonta kiosk run` or "
                    "its window."
                )
            self._outbox_key_value = self._outbox_key_source()
        return self._outbox_key_value

    def seal_plain_rows(self) -> int:
        """Seal face data a release before sealing left in clear; the WAL is emptied after.

        With `secure_delete` on, the old bytes are zeroed in the file; truncating the WAL
        removes the copies it held. Returns how many fields were sealed.
        """
        if not plain_rows(self.db.connection()):
            return 0
        with self.db.write() as conn:
            sealed = seal_plain_rows(conn, self._outbox_key)
        self.db.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        log.info("sealed %d face field(s) of queued check-ins left in clear", sealed)
        return sealed

    def record(self, checkin: NewCheckin) -> RecordOutcome:
        """Commit the check-in and its outbox row (face data sealed); a repeat writes nothing."""
        key = self._outbox_key()
        item = seal_item(key, checkin_item(checkin))
        payload = json.dumps(item, separators=(",", ":"))
        evidence = checkin.evidence_jpeg
        if evidence is not None:
            evidence = seal_evidence(key, checkin.key, evidence)
        meeting, member = str(checkin.meeting_id), str(checkin.member_id)
        recorded_at = _now()
        with self.db.write() as conn:
            earlier = conn.execute(
                "SELECT key, recorded_at FROM checkins WHERE meeting_id = ? AND member_id = ?",
                (meeting, member),
            ).fetchone()
            if earlier is not None:
                return RecordOutcome(
                    "already_checked_in", earlier[0], datetime.fromisoformat(earlier[1])
                )
            conn.execute(
                "INSERT INTO checkins (key, meeting_id, member_id, method, status, similarity, "
                "device_time, recorded_at, member_name, meeting_title) VALUES (?, ?, ?, ?, ?, "
                "?, ?, ?, (SELECT full_name FROM members WHERE member_id = ?), "
                "(SELECT title FROM meetings WHERE meeting_id = ?))",
                (
                    checkin.key,
                    meeting,
                    member,
                    checkin.method,
                    checkin.status,
                    float(checkin.similarity),
                    checkin.device_time.isoformat(),
                    recorded_at.isoformat(),
                    member,
                    meeting,
                ),
            )
            conn.execute(
                "INSERT INTO outbox (key, payload, evidence) VALUES (?, ?, ?)",
                (checkin.key, payload, evidence),
            )
        self._publish_depth()
        return RecordOutcome("recorded", checkin.key, recorded_at)

    def is_checked_in(self, meeting_id: uuid.UUID, member_id: uuid.UUID) -> bool:
        rows = self.db.read(
            "SELECT 1 FROM checkins WHERE meeting_id = ? AND member_id = ?",
            (str(meeting_id), str(member_id)),
        )
        return bool(rows)

    def queue_depth(self) -> int:
        """Check-ins committed here and not yet acknowledged by the server."""
        return int(self.db.read("SELECT count(*) FROM outbox WHERE state = 'pending'")[0][0])

    def outbox_counts(self) -> dict[str, int]:
        rows = self.db.read("SELECT state, count(*) FROM outbox GROUP BY state")
        return {row[0]: int(row[1]) for row in rows}

    def pending_uploads(self, limit: int = 200) -> list[OutboxItem]:
        """The oldest unacknowledged check-ins, exactly as they were first recorded.

        A row that cannot be read back is set aside (`quarantined`, with its reason and
        its bytes kept) and the next rows fill its place, so it never blocks the queue.
        Columns are read as bytes: bad UTF-8 on disk is one damaged row, not an error.
        """
        while True:
            rows = self.db.read(
                "SELECT rowid, CAST(key AS BLOB), CAST(payload AS BLOB) FROM outbox "
                "WHERE state = 'pending' ORDER BY rowid LIMIT ?",
                (limit,),
            )
            items: list[OutboxItem] = []
            damaged: list[tuple[int, str, str]] = []
            for rowid, raw_key, raw_payload in rows:
                key = row_text(raw_key)
                try:
                    item = open_item(self._outbox_key, read_payload(key, raw_payload))
                    items.append(OutboxItem(key, item))
                except DamagedRowError as exc:
                    damaged.append((int(rowid), key, str(exc)))
            if not damaged:
                return items
            self._set_aside(damaged)

    def _set_aside(self, damaged: Sequence[tuple[int, str, str]]) -> None:
        with self.db.write() as conn:
            for rowid, _key, reason in damaged:
                conn.execute(
                    "UPDATE outbox SET state = ?, reason = ? WHERE rowid = ? AND state = 'pending'",
                    (QUARANTINED, reason, rowid),
                )
        for _rowid, key, reason in damaged:
            log.warning("queued check-in %s set aside, not sent: %s", key, reason)
        self._publish_depth()

    def set_aside_count(self) -> int:
        """Queued check-ins that could not be read back and were set aside."""
        rows = self.db.read("SELECT count(*) FROM outbox WHERE state = ?", (QUARANTINED,))
        return int(rows[0][0])

    def set_aside(self) -> list[SetAside]:
        """Every set-aside check-in with why, oldest first."""
        rows = self.db.read(
            "SELECT CAST(key AS BLOB), reason FROM outbox WHERE state = ? ORDER BY rowid",
            (QUARANTINED,),
        )
        return [SetAside(row_text(row[0]), str(row[1])) for row in rows]

    def mark_uploaded(self, results: Sequence[dict[str, Any]]) -> None:
        """Store the server's per-item answers; retryable refusals stay pending."""
        with self.db.write() as conn:
            for result in results:
                self._mark_one(conn, result)
        self._publish_depth()

    @staticmethod
    def _mark_one(conn: sqlite3.Connection, result: dict[str, Any]) -> None:
        key, kind = str(result.get("key", "")), result.get("result")
        reason = result.get("reason")
        if kind == "refused" and any(r in str(reason) for r in RETRYABLE_REASONS):
            conn.execute("UPDATE outbox SET attempts = attempts + 1 WHERE key = ?", (key,))
            return
        if kind == "refused":
            state = "refused"
        elif result.get("status") == "pending_review":
            state = "evidence"
        else:
            state = "done"
        conn.execute(
            "UPDATE outbox SET state = CASE WHEN ? = 'evidence' AND evidence IS NULL "
            "THEN 'done' ELSE ? END, payload = NULL, result = ?, reason = ?, "
            "attempts = attempts + 1 WHERE key = ? AND state = 'pending'",
            (state, state, json.dumps(result), reason, key),
        )

    def pending_evidence(self, limit: int = 20) -> list[tuple[str, bytes]]:
        """Evidence crops to send, opened; one that does not open is kept and not sent."""
        rows = self.db.read(
            "SELECT key, evidence FROM outbox WHERE state = 'evidence' ORDER BY rowid LIMIT ?",
            (limit,),
        )
        crops: list[tuple[str, bytes]] = []
        for key, blob in rows:
            try:
                crops.append((key, open_evidence(self._outbox_key, key, bytes(blob))))
            except DamagedRowError as exc:
                log.warning("evidence crop of %s kept, not sent: %s", key, exc)
                with self.db.write() as conn:
                    conn.execute(
                        "UPDATE outbox SET state = 'done', reason = ? WHERE key = ?",
                        (f"evidence not sent: {exc}", key),
                    )
        return crops

    def mark_evidence_sent(self, key: str) -> None:
        """The crop reached the server (or is no longer wanted): drop it."""
        with self.db.write() as conn:
            conn.execute(
                "UPDATE outbox SET state = 'done', evidence = NULL WHERE key = ? "
                "AND state = 'evidence'",
                (key,),
            )

    def _publish_depth(self) -> None:
        if self._status is not None:
            self._status.update(queue_depth=self.queue_depth(), set_aside=self.set_aside_count())
