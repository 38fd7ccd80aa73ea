"""Asks for the kiosk PIN before leaving full-screen, settings or the admin screens."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QDialog,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.device.lock import MAX_DIGITS, PinLock
from kiosk.errors import PinError
from ui import theme


class PinDialog(QDialog):
    """A number pad (the kiosk may have only a touch screen) and a masked PIN field.

    ``accepted`` fires only for the right PIN; a wrong one says so and stays open.
    """

    def __init__(self, lock: PinLock, purpose: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Kiosk PIN")
        self.setModal(True)
        self._lock = lock
        self.prompt = QLabel(f"Enter the kiosk PIN to {purpose}.")
        self.prompt.setWordWrap(True)
        self.pin = QLineEdit()
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin.setMaxLength(MAX_DIGITS)
        self.pin.setValidator(QRegularExpressionValidator(r"\d*", self.pin))
        self.pin.returnPressed.connect(self.try_pin)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(theme.ERROR_STYLE)
        layout = QVBoxLayout(self)
        layout.addWidget(self.prompt)
        layout.addWidget(self.pin)
        layout.addLayout(self._keypad())
        layout.addWidget(self.error)
        font = self.font()
        font.setPixelSize(26)
        self.setFont(font)
        self.setMinimumWidth(460)
        # Room for a two-line message, so the keypad never shrinks under it.
        self.error.setMinimumHeight(3 * self.error.fontMetrics().lineSpacing())

    def _keypad(self) -> QGridLayout:
        grid = QGridLayout()
        grid.setSpacing(8)
        keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "Clear", "0", "OK"]
        for index, key in enumerate(keys):
            button = QPushButton(key)
            button.setMinimumSize(96, 72)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            if key == "OK":
                button.clicked.connect(self.try_pin)
            elif key == "Clear":
                button.clicked.connect(self.pin.clear)
            else:
                button.clicked.connect(lambda _=False, digit=key: self.pin.insert(digit))
            grid.addWidget(button, index // 3, index % 3)
        cancel = QPushButton("Cancel")
        cancel.setMinimumHeight(64)
        cancel.clicked.connect(self.reject)
        grid.addWidget(cancel, 4, 0, 1, 3)
        return grid

    def try_pin(self) -> None:
        wait = self._lock.wait_left()
        if wait > 0:
            self.error.setText(f"Too many wrong PINs. Try again in {wait:.0f} seconds.")
            return
        try:
            right = self._lock.verify(self.pin.text())
        except PinError as exc:
            self.error.setText(str(exc))
            return
        self.pin.clear()
        if right:
            self.accept()
        else:
            self.error.setText("That PIN is not right. Ask an admin if you do not know it.")
