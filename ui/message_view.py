"""The full-screen message: a confirmation, a retry, a fallback (photo-free by design)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ui import theme
from ui.flow import Message


class MessageView(QWidget):
    """Shows one ``Message`` on the background colour of its tone."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # A palette colour, not a style sheet: re-styling on every message costs the UI
        # thread a re-polish of the whole screen.
        self.setAutoFillBackground(True)
        self.headline = QLabel()
        self.detail = QLabel()
        for label in (self.headline, self.detail):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setWordWrap(True)
        self._layout = layout = QVBoxLayout(self)
        layout.setContentsMargins(48, 48, 48, 48)
        layout.addStretch(2)
        layout.addWidget(self.headline)
        layout.addSpacing(24)
        layout.addWidget(self.detail)
        layout.addStretch(3)
        self.message: Message | None = None

    def show_message(self, message: Message) -> None:
        self.message = message
        self.headline.setText(message.headline)
        self.detail.setText(message.detail)
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, QColor(theme.TONE_BACKGROUND[message.tone]))
        self.setPalette(palette)

    def apply_scale(self, scale: float) -> None:
        theme.set_pixel_size(self.headline, theme.HEADLINE * scale, bold=True)
        theme.set_pixel_size(self.detail, theme.BODY * scale)
        margin = round(48 * scale)
        self._layout.setContentsMargins(margin, margin, margin, margin)
