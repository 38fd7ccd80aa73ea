"""`LocalStore`: the kiosk's durable memory, one SQLite file (see `kiosk.storage.database`).

A check-in is committed with its outbox row in one transaction before `record`
returns, so a confirmation shown to a person is never lost (kill -9, power cut). The
sync worker sends outbox rows in batches and marks them with the server's answers;
rows stay until the server has acknowledged them. A row that cannot be read back is set
aside with its reason (`kiosk.storage.outbox_rows`) and the rest still go. A check-in's face data
(probe, crops) is sealed with the outbox key before it is written (`kiosk.storage.sealing`);
rows a release before sealing left in clear are sealed when the store opens with the key.
The synced gallery is read back decrypted through `gallery_for`, cached until the next
sync changes it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.errors import CredentialError, DamagedRowError, StoreError
from kiosk.inference import Embedding, Gallery, Template, embedding_dimension
from kiosk.protocol.checkins import NewCheckin, RecordOutcome
from kiosk.protocol.wire import checkin_item
from kiosk.storage import local_gallery
from kiosk.storage.database import Database
from kiosk.storage.local_gallery import BadgeKey, GalleryUpdate, MeetingRecord
from kiosk.storage.outbox_rows import (
    QUARANTINED,
    plain_rows,
    read_payload,
    row_text,
    seal_plain_rows,
)
from kiosk.storage.sealing import open_evidence, open_item, open_sealed, seal_evidence, seal_item
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


class LocalStore:
    """The outbox, sync state and local gallery of one kiosk (thread-safe).

    `path` is the SQLite file (created with its folder). `template_key` returns the
    32-byte key for templates at rest (e.g. `CredentialStore.template_key`); it is
    called only when templates are written or read, so an unpaired kiosk can still
    open its store. `outbox_key` returns the key that seals queued check-ins' face data
    (`CredentialStore.outbox_key`); a store without one can read, export and salvage
    rows but not record check-ins or send them. `status`, when given, has its
    `queue_depth` kept current.
    """

    def __init__(
        self,
        path: Path,
        *,
        template_key: Callable[[], bytes] | None = None,
        outbox_key: Callable[[], bytes] | None = None,
        status: SyncStatus | None = None,
    ) -> None:
        self.db = Database(path)
        self._template_key = template_key
        self._outbox_key_source = outbox_key
        self._outbox_key_value: bytes | None = None
        self._status = status
        self._cache_lock = threading.Lock()
        self._cache: tuple[int, dict[str, list[Template]]] | None = None
        if outbox_key is not None:
            self.seal_plain_rows()
        if status is not None:
            status.update(
                queue_depth=self.queue_depth(),
                set_aside=self.set_aside_count(),
                gallery_version=self.gallery_version(),
            )

    def close(self) -> None:
        self.db.close()

    # --- check-ins and the outbox ---------------------------------------------------

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

    # --- sync state -----------------------------------------------------------------

    def get_state(self, name: str) -> str | None:
        rows = self.db.read("SELECT value FROM sync_state WHERE name = ?", (name,))
        return str(rows[0][0]) if rows else None

    def set_state(self, name: str, value: str | None) -> None:
        with self.db.write() as conn:
            if value is None:
                conn.execute("DELETE FROM sync_state WHERE name = ?", (name,))
            else:
                local_gallery._set_state(conn, name, value)

    def gallery_version(self) -> int:
        return int(self.get_state("gallery_version") or 0)

    # --- the synced gallery ---------------------------------------------------------

    def _key(self) -> bytes:
        if self._template_key is None:
            raise CredentialError(
                "This kiosk has no template key; pair it with `sonta kiosk pair URL CODE`."
            )
        return self._template_key()

    def apply_gallery(self, update: GalleryUpdate) -> None:
        """Apply one sync answer atomically (all of it or nothing)."""
        key = self._key()
        with self.db.write() as conn:
            local_gallery.apply_update(conn, key, update)
        with self._cache_lock:
            self._cache = None
        if self._status is not None:
            self._status.update(gallery_version=update.version, gallery_size=self.template_count())

    def wipe_gallery(self) -> None:
        """Forget templates, members, meetings and badges (the outbox stays)."""
        with self.db.write() as conn:
            local_gallery.wipe(conn)
        with self._cache_lock:
            self._cache = None
        if self._status is not None:
            self._status.update(gallery_version=0, gallery_size=0)

    def template_count(self) -> int:
        return int(self.db.read("SELECT count(*) FROM templates")[0][0])

    def _templates_by_member(self) -> dict[str, list[Template]]:
        """Every template decrypted, cached per gallery version."""
        with self._cache_lock:
            version = self.gallery_version()
            if self._cache is not None and self._cache[0] == version:
                return self._cache[1]
            key = self._key()
            rows = self.db.read(
                "SELECT template_id, member_id, model_id, nonce, sealed FROM templates"
            )
            by_member: dict[str, list[Template]] = {}
            for row in rows:
                vector = open_sealed(
                    key,
                    row[3],
                    row[4],
                    member_id=row[1],
                    template_id=row[0],
                    model_id=row[2],
                )
                template = Template(row[0], row[1], Embedding(vector, row[2]))
                by_member.setdefault(row[1], []).append(template)
            self._cache = (version, by_member)
            return by_member

    def model_id(self) -> str | None:
        return self.get_state("gallery_model_id")

    def gallery_for(self, meeting_id: uuid.UUID | str) -> Gallery:
        """A gallery of the meeting's expected people (every member if it names nobody)."""
        meeting = self.meeting(meeting_id)
        if meeting is None:
            raise StoreError(
                f"Meeting {meeting_id} is not in this kiosk's gallery. Let the kiosk sync "
                "(check its network), or choose a meeting that is open."
            )
        by_member = self._templates_by_member()
        wanted = meeting.expected_member_ids or tuple(by_member)
        model_id = self.model_id() or "unknown"
        gallery = Gallery(model_id, embedding_dimension(model_id))
        gallery.add_many(t for member in wanted for t in by_member.get(member, ()))
        return gallery

    def meeting(self, meeting_id: uuid.UUID | str) -> MeetingRecord | None:
        rows = self.db.read("SELECT * FROM meetings WHERE meeting_id = ?", (str(meeting_id),))
        return local_gallery.meeting_from_row(rows[0]) if rows else None

    def meetings(self) -> list[MeetingRecord]:
        rows = self.db.read("SELECT * FROM meetings ORDER BY starts_at, meeting_id")
        return [local_gallery.meeting_from_row(row) for row in rows]

    def active_meetings(self, now: datetime | None = None) -> list[MeetingRecord]:
        """Meetings taking check-ins now: started on the server, or due by the clock."""
        moment = now or _now()
        return [m for m in self.meetings() if m.is_open(moment)]

    def member_name(self, member_id: uuid.UUID | str) -> str | None:
        rows = self.db.read("SELECT full_name FROM members WHERE member_id = ?", (str(member_id),))
        return str(rows[0][0]) if rows else None

    def member_names(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self.db.read("SELECT member_id, full_name FROM members")}

    def is_badge_revoked(self, badge_id: uuid.UUID | str) -> bool:
        rows = self.db.read("SELECT 1 FROM revoked_badges WHERE badge_id = ?", (str(badge_id),))
        return bool(rows)

    def badge_keys(self) -> list[BadgeKey]:
        """Public keys that verify badges offline, the current key first."""
        rows = self.db.read("SELECT kid, algorithm, public_key FROM badge_keys ORDER BY position")
        return [BadgeKey(r[0], r[1], r[2]) for r in rows]

    def save_badge_keys(self, keys: Sequence[BadgeKey]) -> None:
        with self.db.write() as conn:
            local_gallery.replace_badge_keys(conn, keys)
