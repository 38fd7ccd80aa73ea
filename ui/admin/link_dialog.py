"""The one-time set-password link, shown once to the super admin who asked for it.

Only when the server has no email set up: the link then reaches nobody unless the super
admin passes it on. It is shown in this dialog only (never saved or logged), with a Copy
button; closing the dialog forgets it.
"""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class OneTimeLinkDialog(QDialog):
    def __init__(self, sentence: str, link: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("One-time link to pass on")
        self.setMinimumWidth(560)
        self.sentence = QLabel(sentence)
        self.sentence.setWordWrap(True)
        self.link = QLineEdit(link)
        self.link.setReadOnly(True)
        self.link.setCursorPosition(0)
        self.copied = QLabel("Send it in a message only they can read.")
        self.copied.setWordWrap(True)
        self.copy_button = QPushButton("Copy the link")
        self.copy_button.clicked.connect(self.copy)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.sentence, self.link, self.copied):
            layout.addWidget(widget)
        layout.addWidget(buttons)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.link.text())
        self.copied.setText("Copied. Paste it into a message only they can read.")
