"""Settings (behind the PIN): camera, meeting, sounds, liveness, kiosk mode, PIN, server."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.device.lock import PinLock, check_new_pin
from kiosk.device.preferences import LIVENESS_CHOICES, Preferences
from kiosk.errors import KioskError, PinError
from ui import theme
from ui.pairing_dialog import ON_NOW

LIVENESS_TEXT = {
    "meeting": "As the meeting says",
    "always": "Always ask for a head turn",
    "review_only": "Only when the match is unsure",
    "never": "Never",
}


class SettingsDialog(QDialog):
    saved = Signal(object)  # the new Preferences
    repair_requested = Signal()

    def __init__(
        self,
        preferences: Preferences,
        lock: PinLock,
        *,
        cameras: list[str],
        meetings: list[tuple[str, str]],
        server_url: str | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Kiosk settings")
        self._preferences, self._lock = preferences, lock
        self._make_fields(preferences, cameras, meetings, server_url)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(theme.ERROR_STYLE)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Server", self.server)
        form.addRow(self.repair)
        form.addRow("Camera", self.camera)
        form.addRow("Meeting", self.meeting)
        restart = QLabel("A new camera or meeting is used from the kiosk's next start.")
        restart.setWordWrap(True)
        form.addRow(restart)
        form.addRow(self.sounds)
        form.addRow("Liveness check", self.liveness)
        form.addRow(self.lockdown)
        form.addRow("New PIN", self.new_pin)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        font = self.font()
        font.setPixelSize(theme.DIALOG_TEXT_PX)
        self.setFont(font)
        self.setMinimumWidth(720)

    def _make_fields(
        self,
        preferences: Preferences,
        cameras: list[str],
        meetings: list[tuple[str, str]],
        server_url: str | None,
    ) -> None:
        self.server = QLabel(server_url or "Not paired")
        self.repair = repair = QPushButton("Pair again\N{HORIZONTAL ELLIPSIS}")
        repair.clicked.connect(self._on_repair)
        self.camera = QComboBox()
        self.camera.setEditable(True)
        self.camera.addItems(cameras or [preferences.camera])
        self.camera.setCurrentText(preferences.camera)
        self.meeting = QComboBox()
        self.meeting.addItem(ON_NOW, None)
        for meeting_id, title in meetings:
            self.meeting.addItem(title, meeting_id)
        index = self.meeting.findData(preferences.meeting_id)
        self.meeting.setCurrentIndex(max(0, index))
        self.sounds = QCheckBox("Play a sound on check-in")
        self.sounds.setChecked(preferences.sounds)
        self.liveness = QComboBox()
        for choice in LIVENESS_CHOICES:
            self.liveness.addItem(LIVENESS_TEXT[choice], choice)
        self.liveness.setCurrentIndex(self.liveness.findData(preferences.liveness))
        self.lockdown = QCheckBox("Full-screen kiosk mode (leaving it needs the PIN)")
        self.lockdown.setChecked(preferences.lockdown)
        self.new_pin = QLineEdit()
        self.new_pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.new_pin.setPlaceholderText("leave empty to keep the PIN")

    def _on_repair(self) -> None:
        self.repair_requested.emit()
        self.reject()

    def save(self) -> None:
        try:
            chosen = replace(
                self._preferences,
                camera=self.camera.currentText().strip(),
                meeting_id=self.meeting.currentData(),
                sounds=self.sounds.isChecked(),
                liveness=self.liveness.currentData(),
                lockdown=self.lockdown.isChecked(),
            )
            if self.new_pin.text():
                check_new_pin(self.new_pin.text())
                self._lock.set_pin(self.new_pin.text())
        except (KioskError, PinError) as exc:
            self.error.setText(str(exc))
            return
        self.saved.emit(chosen)
        self.accept()
