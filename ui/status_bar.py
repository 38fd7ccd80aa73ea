"""The bar along the bottom: what a volunteer needs to know at a glance."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QWidget

from kiosk.events import SourceState
from kiosk.syncing.status import SyncSnapshot
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
    SourceState.ABSENT: "No camera found",
}


PLAIN_HTTP = "not encrypted"  # "http, not encrypted" is cut off on a 1280-wide window
PLAIN_HTTP_TIP = (
    "Server: http (not encrypted). This kiosk talks to its server over plain http: its "
    "credential, the gallery and check-ins travel in clear. Pair it with the server's "
    "https address unless this is the venue's own network."
)


def connection_text(snapshot: SyncSnapshot) -> str:
    text = CONNECTION_TEXT[snapshot.connection]
    paired = snapshot.connection in ("online", "offline")
    return f"{text}, {PLAIN_HTTP}" if snapshot.plain_http and paired else text


def queue_text(depth: int, set_aside: int = 0) -> str:
    text = "All sent" if depth == 0 else f"{depth} waiting to send"
    return f"{text}, {set_aside} damaged set aside" if set_aside else text


SET_ASIDE_TIP = (
    "{count} queued check-in(s) could not be read back from this kiosk's database and were "
    "set aside (kept, not sent). Run `sonta kiosk status` to see them."
)


def last_sync_text(at: datetime | None) -> str:
    return "Never synced" if at is None else f"Synced {at.astimezone().strftime('%H:%M')}"


class ElidingLabel(QLabel):
    """One line that ends in an ellipsis when too long (a long error never widens the bar).

    A few lines here rather than superqt's, whose package import costs the window's
    start-up a second on a busy PC.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            area = self.contentsRect()
            text = self.fontMetrics().elidedText(
                self.text(), Qt.TextElideMode.ElideRight, area.width()
            )
            painter.setPen(self.palette().color(self.foregroundRole()))
            painter.drawText(area, int(self.alignment()), text)
        finally:
            painter.end()

    def is_elided(self) -> bool:
        return self.fontMetrics().horizontalAdvance(self.text()) > self.contentsRect().width()


class StatusBar(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusBar")
        self.connection = ElidingLabel()
        self.queue = ElidingLabel()
        self.last_sync = ElidingLabel()
        self.model = ElidingLabel()
        self.camera = ElidingLabel()
        self._layout = QGridLayout(self)
        self.labels = (self.connection, self.queue, self.last_sync, self.model, self.camera)
        self._arrange(columns=len(self.labels))
        self.set_camera(SourceState.STARTING)
        self.set_model(None)
        self.set_status(SyncSnapshot())

    def set_status(self, snapshot: SyncSnapshot) -> None:
        # A few words that always fit; the reason is in the tooltip and `sonta kiosk status`
        # (a cut-off "Offline: The server ..." told nobody anything).
        self.connection.setText(connection_text(snapshot))
        tips = (snapshot.last_error, PLAIN_HTTP_TIP if snapshot.plain_http else None)
        self.connection.setToolTip("\n".join(t for t in tips if t))
        clear = snapshot.online and not snapshot.plain_http
        colour = theme.ONLINE if clear else theme.OFFLINE
        self.connection.setStyleSheet(f"color: {colour};")
        self.queue.setText(queue_text(snapshot.queue_depth, snapshot.set_aside))
        aside = snapshot.set_aside
        self.queue.setToolTip(SET_ASIDE_TIP.format(count=aside) if aside else "")
        self.queue.setStyleSheet(f"color: {theme.OFFLINE};" if aside else "")
        self.last_sync.setText(last_sync_text(snapshot.last_sync))

    def set_model(self, pack: str | None) -> None:
        self.model.setText(f"Model {pack}" if pack else "Model loading")

    def set_camera(self, state: SourceState, detail: str = "") -> None:
        self.camera_state = state
        self.camera.setText(CAMERA_TEXT[state])
        self.camera.setToolTip(detail)
        ok = state in (SourceState.LIVE, SourceState.STARTING)
        self.camera.setStyleSheet(f"color: {theme.TEXT if ok else theme.OFFLINE};")

    def _arrange(self, columns: int) -> None:
        for label in self.labels:
            self._layout.removeWidget(label)
        for index, label in enumerate(self.labels):
            self._layout.addWidget(label, index // columns, index % columns)
        for column in range(len(self.labels)):
            self._layout.setColumnStretch(column, 1 if column < columns else 0)

    def apply_scale(self, scale: float, *, portrait: bool = False) -> None:
        """Sizes the text; a portrait screen gets two rows instead of one."""
        self._arrange(columns=3 if portrait else len(self.labels))
        for label in self.labels:
            theme.set_pixel_size(label, theme.STATUS * scale)
        pad = round(10 * scale)
        self._layout.setContentsMargins(pad * 2, pad, pad * 2, pad)
