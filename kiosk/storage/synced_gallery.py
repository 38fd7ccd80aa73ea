"""The synced gallery as the kiosk reads it: templates, meetings, members, badges.

Sync answers are written by `kiosk.storage.local_gallery`, one transaction each; this
side reads them back. Templates are decrypted with the template key, cached until the
next sync answer changes them, and `gallery_for` gives a meeting's expected people as
one `Gallery`.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from kiosk.errors import CredentialError, StoreError
from kiosk.inference import Embedding, Gallery, Template, embedding_dimension
from kiosk.storage import local_gallery
from kiosk.storage.database import Database
from kiosk.storage.local_gallery import BadgeKey, GalleryUpdate, MeetingRecord
from kiosk.storage.sealing import open_sealed
from kiosk.syncing.status import SyncStatus


class SyncedGallery:
    """The synced part of `db` (thread-safe).

    `template_key` returns the 32-byte key for templates at rest (e.g.
    `CredentialStore.template_key`); it is called only when templates are written or
    read, so an unpaired kiosk can still open its store. `status`, when given, has its
    gallery version and size kept current.
    """

    def __init__(
        self,
        db: Database,
        *,
        template_key: Callable[[], bytes] | None = None,
        status: SyncStatus | None = None,
    ) -> None:
        self.db = db
        self._template_key = template_key
        self._status = status
        self._cache_lock = threading.Lock()
        self._cache: tuple[int, dict[str, list[Template]]] | None = None

    def _synced(self, name: str) -> str | None:
        rows = self.db.read("SELECT value FROM sync_state WHERE name = ?", (name,))
        return str(rows[0][0]) if rows else None

    def gallery_generation(self) -> int:
        """Changes whenever a sync answer is applied or the gallery wiped (in any process)."""
        return int(self._synced(local_gallery.GENERATION) or 0)

    def gallery_version(self) -> int:
        return int(self._synced("gallery_version") or 0)

    def model_id(self) -> str | None:
        return self._synced("gallery_model_id")

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
        """Every template decrypted, cached until the synced data changes."""
        with self._cache_lock:
            version = self.gallery_generation()
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

    def _known_meeting(self, meeting_id: uuid.UUID | str) -> MeetingRecord:
        meeting = self.meeting(meeting_id)
        if meeting is None:
            raise StoreError(
                f"Meeting {meeting_id} is not in this kiosk's gallery. Let the kiosk sync "
                "(check its network), or choose a meeting that is open."
            )
        return meeting

    def gallery_for(self, meeting_id: uuid.UUID | str) -> Gallery:
        """A gallery of the people the meeting expects: everyone held, those it lists, or
        nobody (then it is empty)."""
        meeting = self._known_meeting(meeting_id)
        by_member = self._templates_by_member()
        wanted = tuple(by_member) if meeting.expects_everyone else meeting.expected_member_ids
        model_id = self.model_id() or "unknown"
        gallery = Gallery(model_id, embedding_dimension(model_id))
        gallery.add_many(t for member in wanted for t in by_member.get(member, ()))
        return gallery

    def expects_nobody(self, meeting_id: uuid.UUID | str) -> bool:
        """Whether face check-in is off for the meeting (it expects nobody)."""
        return self._known_meeting(meeting_id).expects_nobody

    def meeting(self, meeting_id: uuid.UUID | str) -> MeetingRecord | None:
        rows = self.db.read("SELECT * FROM meetings WHERE meeting_id = ?", (str(meeting_id),))
        return local_gallery.meeting_from_row(rows[0]) if rows else None

    def meetings(self) -> list[MeetingRecord]:
        rows = self.db.read("SELECT * FROM meetings ORDER BY starts_at, meeting_id")
        return [local_gallery.meeting_from_row(row) for row in rows]

    def active_meetings(self, now: datetime | None = None) -> list[MeetingRecord]:
        """Meetings taking check-ins now: started on the server, or due by the clock."""
        moment = now or datetime.now(UTC)
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
