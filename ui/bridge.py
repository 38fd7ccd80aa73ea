"""The core's callbacks, which fire on its own threads, delivered on the Qt main thread.

The core (``kiosk.events.EventBus``, ``kiosk.syncing.status.SyncStatus``) calls its subscribers
on the capture, recognition and sync threads and waits for them, so the subscriber here
only hands the value over and returns. Decisions and status snapshots travel as queued
signals (each one matters); per-frame analyses are coalesced into one slot, like frames,
so a busy main thread never builds up a backlog of stale boxes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot

from kiosk.events import EventBus, FrameAnalysed, KioskEvent
from kiosk.syncing.status import SyncSnapshot, SyncStatus


class CoreBridge(QObject):
    """Subscribes to the core and re-emits on the thread this object lives on (main)."""

    event_received = Signal(object)  # a KioskEvent other than FrameAnalysed
    analysis_ready = Signal(object)  # the newest FrameAnalysed
    status_changed = Signal(object)  # a SyncSnapshot

    _analysis_posted = Signal()

    def __init__(
        self, events: EventBus, status: SyncStatus | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._analysis: FrameAnalysed | None = None
        self._posted = False
        self._analysis_posted.connect(self._on_analysis_posted, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe: list[Callable[[], None]] = [events.subscribe(self._on_core_event)]
        if status is not None:
            self._unsubscribe.append(status.subscribe(self.status_changed.emit))

    def close(self) -> None:
        """Stop listening to the core (safe to call twice)."""
        while self._unsubscribe:
            self._unsubscribe.pop()()

    def _on_core_event(self, event: KioskEvent) -> None:
        """Runs on a core thread: hand over and return at once."""
        if not isinstance(event, FrameAnalysed):
            self.event_received.emit(event)
            return
        with self._lock:
            self._analysis = event
            post, self._posted = not self._posted, True
        if post:
            self._analysis_posted.emit()

    @Slot()
    def _on_analysis_posted(self) -> None:
        with self._lock:
            analysis, self._analysis, self._posted = self._analysis, None, False
        if analysis is not None:
            self.analysis_ready.emit(analysis)


def snapshot_or_default(status: SyncStatus | None) -> SyncSnapshot:
    """The current status, or the unpaired default when the window runs without sync."""
    return status.snapshot if status is not None else SyncSnapshot()
