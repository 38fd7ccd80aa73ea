"""Progress of a model-pack download or import, from the sync status's ``pack_progress``."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QLabel, QProgressBar, QVBoxLayout, QWidget

from kiosk.syncing.status import SyncSnapshot


class DownloadDialog(QDialog):
    """Shown while ``pack_progress`` is set; closes itself when it is cleared."""

    def __init__(self, pack: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Getting the face model")
        self.label = QLabel(
            f"Getting the face model ({pack}) for this kiosk. This happens once; "
            "check-in starts when it is done."
        )
        self.label.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.error = QLabel()
        self.error.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.error)
        font = self.font()
        font.setPixelSize(20)
        self.setFont(font)

    def follow(self, snapshot: SyncSnapshot) -> None:
        """Update from a status snapshot (connected to the bridge's ``status_changed``)."""
        if snapshot.pack_progress is None:
            self.accept()  # done, or failed: the window then says why
            return
        self.bar.setValue(round(snapshot.pack_progress * 1000))
