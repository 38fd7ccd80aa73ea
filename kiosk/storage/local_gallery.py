"""The synced part of the local database: templates, members, meetings, badges.

Gallery sync answers arrive as a `GalleryUpdate` and are applied in one transaction:
a full snapshot replaces everything, a delta adds and deletes templates (deletions
apply at once: a deleted member cannot be recognised after the commit). Lists the
server left out (`None`: unchanged since the digest the kiosk sent) stay as they are.
Templates are sealed with the template key before they touch the disk. Each meeting
says whom the kiosk may recognise for it (`MeetingRecord`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from kiosk.storage.sealing import seal

# A count in `sync_state` of every answer applied (and wipe): what readers cache on. The
# server's gallery version is not enough: a snapshot after a meeting's list changed
# can keep the version and still change who the meeting expects.
GENERATION = "gallery_generation"


@dataclass(frozen=True)
class TemplateRecord:
    template_id: str
    member_id: str
    vector: NDArray[np.float32]


@dataclass(frozen=True)
class MemberRecord:
    member_id: str
    full_name: str
    ministry: str


@dataclass(frozen=True)
class MeetingRecord:
    """A meeting the kiosk takes check-ins for, and whom it may recognise for it:
    everyone it holds (`expects_everyone`), or exactly `expected_member_ids`, which may
    be nobody (the server's rule, `GalleryMeeting`)."""

    meeting_id: str
    title: str
    status: str
    starts_at: datetime
    ends_at: datetime
    late_after: datetime | None
    expected_member_ids: tuple[str, ...]
    liveness: str = "review_only"  # the meeting's head-turn policy (kiosk.protocol.liveness)
    expects_everyone: bool = False

    @property
    def expects_nobody(self) -> bool:
        """Face check-in is off for it: nobody may be recognised, staff check people in."""
        return not self.expects_everyone and not self.expected_member_ids

    def is_open(self, now: datetime) -> bool:
        """Started on the server, or due by the clock (the kiosk may be offline)."""
        if self.status == "active":
            return True
        return self.status == "scheduled" and self.starts_at <= now <= self.ends_at


@dataclass(frozen=True)
class BadgeKey:
    kid: str
    algorithm: str
    public_key: str  # raw 32-byte Ed25519 key, base64url without padding


@dataclass(frozen=True)
class GalleryUpdate:
    """One gallery sync answer, decoded; `None` lists are unchanged since last time."""

    version: int
    model_id: str
    full: bool
    scope: str
    templates: Sequence[TemplateRecord]
    deleted_template_ids: Sequence[str] = ()
    deleted_member_ids: Sequence[str] = ()
    members: Sequence[MemberRecord] | None = None
    members_digest: str | None = None
    meetings: Sequence[MeetingRecord] | None = None
    meetings_digest: str | None = None
    revoked_badge_ids: Sequence[str] | None = None


def _set_state(conn: sqlite3.Connection, name: str, value: str) -> None:
    conn.execute(
        "INSERT INTO sync_state (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (name, value),
    )


def _next_generation(conn: sqlite3.Connection) -> None:
    """Count one more change of the synced data (`GENERATION`)."""
    conn.execute(
        "INSERT INTO sync_state (name, value) VALUES (?, '1') ON CONFLICT (name) "
        "DO UPDATE SET value = CAST(value AS INTEGER) + 1",
        (GENERATION,),
    )


def apply_update(conn: sqlite3.Connection, key: bytes, update: GalleryUpdate) -> None:
    """Write `update` inside the caller's transaction."""
    _next_generation(conn)
    if update.full:
        conn.execute("DELETE FROM templates")
    if update.deleted_template_ids:
        conn.executemany(
            "DELETE FROM templates WHERE template_id = ?",
            [(t,) for t in update.deleted_template_ids],
        )
    if update.deleted_member_ids:
        conn.executemany(
            "DELETE FROM templates WHERE member_id = ?", [(m,) for m in update.deleted_member_ids]
        )
    conn.executemany(
        "INSERT OR REPLACE INTO templates (template_id, member_id, model_id, nonce, sealed) "
        "VALUES (?, ?, ?, ?, ?)",
        [_sealed_row(key, t, update.model_id) for t in update.templates],
    )
    if update.members is not None:
        _replace_members(conn, update.members)
    if update.meetings is not None:
        _replace_meetings(conn, update.meetings)
    if update.revoked_badge_ids is not None:
        conn.execute("DELETE FROM revoked_badges")
        conn.executemany(
            "INSERT OR IGNORE INTO revoked_badges (badge_id) VALUES (?)",
            [(b,) for b in update.revoked_badge_ids],
        )
    _set_state(conn, "gallery_version", str(update.version))
    _set_state(conn, "gallery_scope", update.scope)
    _set_state(conn, "gallery_model_id", update.model_id)
    if update.members_digest is not None:
        _set_state(conn, "members_digest", update.members_digest)
    if update.meetings_digest is not None:
        _set_state(conn, "meetings_digest", update.meetings_digest)


def _sealed_row(key: bytes, template: TemplateRecord, model_id: str) -> tuple[object, ...]:
    nonce, sealed = seal(
        key,
        template.vector,
        member_id=template.member_id,
        template_id=template.template_id,
        model_id=model_id,
    )
    return (template.template_id, template.member_id, model_id, nonce, sealed)


def _replace_members(conn: sqlite3.Connection, members: Iterable[MemberRecord]) -> None:
    conn.execute("DELETE FROM members")
    conn.executemany(
        "INSERT OR REPLACE INTO members (member_id, full_name, ministry) VALUES (?, ?, ?)",
        [(m.member_id, m.full_name, m.ministry) for m in members],
    )


def _replace_meetings(conn: sqlite3.Connection, meetings: Iterable[MeetingRecord]) -> None:
    conn.execute("DELETE FROM meetings")
    conn.executemany(
        "INSERT OR REPLACE INTO meetings (meeting_id, title, status, starts_at, ends_at, "
        "late_after, expected_member_ids, liveness, expects_everyone) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                m.meeting_id,
                m.title,
                m.status,
                m.starts_at.isoformat(),
                m.ends_at.isoformat(),
                m.late_after.isoformat() if m.late_after else None,
                json.dumps(list(m.expected_member_ids)),
                m.liveness,
                int(m.expects_everyone),
            )
            for m in meetings
        ],
    )


def meeting_from_row(row: sqlite3.Row) -> MeetingRecord:
    late = row["late_after"]
    return MeetingRecord(
        meeting_id=row["meeting_id"],
        title=row["title"],
        status=row["status"],
        starts_at=datetime.fromisoformat(row["starts_at"]),
        ends_at=datetime.fromisoformat(row["ends_at"]),
        late_after=datetime.fromisoformat(late) if late else None,
        expected_member_ids=tuple(json.loads(row["expected_member_ids"])),
        liveness=row["liveness"],
        expects_everyone=bool(row["expects_everyone"]),
    )


def wipe(conn: sqlite3.Connection) -> None:
    """Forget every synced thing (a revoked or unpaired kiosk), in the caller's transaction."""
    _next_generation(conn)
    for table in ("templates", "members", "meetings", "revoked_badges", "badge_keys"):
        conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
    conn.execute(
        "DELETE FROM sync_state WHERE name IN ('gallery_version', 'gallery_scope', "
        "'gallery_model_id', 'members_digest', 'meetings_digest')"
    )


def replace_badge_keys(conn: sqlite3.Connection, keys: Sequence[BadgeKey]) -> None:
    conn.execute("DELETE FROM badge_keys")
    conn.executemany(
        "INSERT INTO badge_keys (kid, algorithm, public_key, position) VALUES (?, ?, ?, ?)",
        [(k.kid, k.algorithm, k.public_key, i) for i, k in enumerate(keys)],
    )
