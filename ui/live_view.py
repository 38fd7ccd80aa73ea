"""The live screen: the mirrored camera preview with the advice of the moment under it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from kiosk.events import FrameAnalysed
from ui import theme
from ui.preview import FrameProvider, PreviewWidget

INVITATION = "Look at the camera to check in"


class LiveView(QWidget):
    def __init__(self, frames: FrameProvider, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("screen")
        self.preview = PreviewWidget(frames)
        self.guidance = QLabel(INVITATION)
        self.guidance.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.guidance.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.guidance)

    def show_analysis(self, analysis: FrameAnalysed | None) -> None:
        self.preview.set_analysis(analysis)

    def set_guidance(self, text: str | None) -> None:
        self.guidance.setText(text or INVITATION)

    def apply_scale(self, scale: float) -> None:
        theme.set_pixel_size(self.guidance, theme.BODY * 1.2 * scale, bold=True)
        pad = round(16 * scale)
        self.guidance.setContentsMargins(pad, pad, pad, pad)
