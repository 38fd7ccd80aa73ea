"""What the kiosk's sync side looks like right now, observable by the view.

`SyncStatus` holds one immutable `SyncSnapshot` and tells subscribers each time it
changes. The sync worker, the store and the pack installer update it from their own
threads, so **callbacks may fire on any thread**: a Qt view must hop to its main thread
(a queued signal or superqt's `ensure_main_thread`) before touching widgets. Changes
are delivered one at a time in the order they were made (so the last snapshot a
subscriber hears is the current one); one callback that raises is logged and the
others still run. A callback may call `update` itself.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

log = logging.getLogger(__name__)

# unpaired: no credential yet; online: the last exchange with the server worked;
# offline: it failed and the worker is retrying; revoked: an admin revoked the kiosk.
Connection = Literal["unpaired", "online", "offline", "revoked"]


@dataclass(frozen=True)
class SyncSnapshot:
    """One consistent reading of the sync state; compare snapshots with `==`."""

    connection: Connection = "unpaired"
    queue_depth: int = 0  # check-ins committed locally, not yet acknowledged by the server
    set_aside: int = 0  # queued check-ins that could not be read back: kept, not sent
    last_sync: datetime | None = None  # last successful exchange (UTC)
    gallery_version: int = 0
    gallery_size: int = 0  # templates held locally
    model_id: str | None = None  # the server's model id from the last heartbeat
    model_matches: bool = True  # False: the kiosk's pack differs from the server's
    last_error: str | None = None  # a sentence a volunteer can act on, or None
    clock_drift_s: float | None = None  # device clock minus server clock, last heartbeat
    clock_drift_flagged: bool = False  # the server finds the drift too large
    # Model-pack installation: fraction done (0..1) while fetching or importing.
    pack_progress: float | None = None
    # The server is reached over plain http: credential, gallery and check-ins travel in
    # clear (a production server allows it only with ALLOW_HTTP_PAIRING, for a venue LAN).
    plain_http: bool = False

    @property
    def online(self) -> bool:
        return self.connection == "online"


Subscriber = Callable[[SyncSnapshot], None]


class SyncStatus:
    """Thread-safe holder of the current `SyncSnapshot` with change callbacks."""

    def __init__(self, initial: SyncSnapshot | None = None) -> None:
        self._lock = threading.Lock()
        # Held while callbacks run so that deliveries keep the order of the changes.
        self._delivering = threading.RLock()
        self._snapshot = initial or SyncSnapshot()
        self._subscribers: list[Subscriber] = []

    @property
    def snapshot(self) -> SyncSnapshot:
        return self._snapshot

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback(snapshot)` after every change (on any thread); returns unsubscribe."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def update(self, **changes: Any) -> SyncSnapshot:
        """Replace the named fields; subscribers hear of it only if something changed."""
        with self._delivering:
            with self._lock:
                before = self._snapshot
                after = dataclasses.replace(before, **changes)
                self._snapshot = after
                subscribers = list(self._subscribers) if after != before else []
            for callback in subscribers:
                try:
                    callback(after)
                except Exception:
                    log.exception("a sync status subscriber failed")
        return after
