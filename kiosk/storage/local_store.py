"""`LocalStore`: the kiosk's durable memory, one SQLite file (see `kiosk.storage.database`).

It is the outbox of check-ins (`kiosk.storage.outbox`: committed before a person is
told, sent in batches, kept until acknowledged) and the synced gallery
(`kiosk.storage.synced_gallery`: templates, meetings, members, badges), on one database
with the sync state beside them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kiosk.storage import local_gallery
from kiosk.storage.database import Database
from kiosk.storage.outbox import Outbox
from kiosk.storage.synced_gallery import SyncedGallery
from kiosk.syncing.status import SyncStatus


class LocalStore(Outbox, SyncedGallery):
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
        db = Database(path)
        Outbox.__init__(self, db, outbox_key=outbox_key, status=status)
        SyncedGallery.__init__(self, db, template_key=template_key, status=status)
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

    # --- sync state -----------------------------------------------------------------

    def get_state(self, name: str) -> str | None:
        return self._synced(name)

    def set_state(self, name: str, value: str | None) -> None:
        with self.db.write() as conn:
            if value is None:
                conn.execute("DELETE FROM sync_state WHERE name = ?", (name,))
            else:
                local_gallery._set_state(conn, name, value)
