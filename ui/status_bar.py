"""The bar along the bottom: what a volunteer needs to know at a glance."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtWidgets import QHBoxLayout, QWidget
from superqt import QElidingLabel

from kiosk.events import SourceState
from kiosk.status import SyncSnapshot
from ui import theme

CONNECTION_TEXT = {
    "unpaired": "Not paired",
    "online": "\N{BLACK CIRCLE} Online",
    "offline": "\N{BLACK CIRCLE} Offline",
    "revoked": "Kiosk revoked: ask an admin",
}
CAMERA_TEXT = {
    SourceState.STARTING: "Camera starting",
    SourceState.LIVE: "Camera live",
    SourceState.LOST: "Camera lost",
    SourceState.REOPENING: "Camera reconnecting",
    SourceState.STOPPED: "Camera stopped",
}


def queue_text(depth: int) -> str:
    if depth == 0:
        return "All check-ins sent"
    return f"{depth} check-in{'s' if depth != 1 else ''} waiting to send"


def last_sync_text(at: datetime | None) -> str:
    return "Never synced" if at is None else f"Last sync {at.astimezone().strftime('%H:%M')}"


class StatusBar(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusBar")
        self.connection = QElidingLabel()
        self.queue = QElidingLabel()
        self.last_sync = QElidingLabel()
        self.model = QElidingLabel()
        self.camera = QElidingLabel()
        self._layout = layout = QHBoxLayout(self)
        self.labels = (self.connection, self.queue, self.last_sync, self.model, self.camera)
        for label in self.labels:
            layout.addWidget(label, 1)
        self.set_camera(SourceState.STARTING)
        self.set_model(None)
        self.set_status(SyncSnapshot())

    def set_status(self, snapshot: SyncSnapshot) -> None:
        text = CONNECTION_TEXT[snapshot.connection]
        if snapshot.last_error and snapshot.connection != "online":
            text = f"{text}: {snapshot.last_error}"
        self.connection.setText(text)
        self.connection.setToolTip(snapshot.last_error or "")
        colour = theme.ONLINE if snapshot.online else theme.OFFLINE
        self.connection.setStyleSheet(f"color: {colour};")
        self.queue.setText(queue_text(snapshot.queue_depth))
        self.last_sync.setText(last_sync_text(snapshot.last_sync))

    def set_model(self, pack: str | None) -> None:
        self.model.setText(f"Model {pack}" if pack else "Model loading")

    def set_camera(self, state: SourceState, detail: str = "") -> None:
        self.camera_state = state
        self.camera.setText(CAMERA_TEXT[state])
        self.camera.setToolTip(detail)
        ok = state in (SourceState.LIVE, SourceState.STARTING)
        self.camera.setStyleSheet(f"color: {theme.TEXT if ok else theme.OFFLINE};")

    def apply_scale(self, scale: float) -> None:
        for label in self.labels:
            theme.set_pixel_size(label, theme.STATUS * scale)
        pad = round(10 * scale)
        self._layout.setContentsMargins(pad * 2, pad, pad * 2, pad)
