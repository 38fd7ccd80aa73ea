"""A small bar chart painted with QPainter (Qt Charts is deprecated): labels and values."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

BAR = QColor("#2e86de")
AXIS = QColor("#555555")


class BarChart(QWidget):
    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.bars: list[tuple[str, float]] = []
        self.setMinimumHeight(220)

    def set_bars(self, bars: list[tuple[str, float]]) -> None:
        self.bars = list(bars)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(AXIS)
        painter.drawText(QRectF(0, 0, self.width(), 24), Qt.AlignmentFlag.AlignCenter, self.title)
        if not self.bars:
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No data yet.")
            return
        top, bottom = 48.0, self.height() - 40.0  # room for the title and a value label
        slot = (self.width() - 20) / len(self.bars)
        peak = max(value for _, value in self.bars) or 1.0
        for i, (label, value) in enumerate(self.bars):
            height = (bottom - top) * value / peak
            x = 10 + i * slot
            painter.fillRect(QRectF(x + slot * 0.15, bottom - height, slot * 0.7, height), BAR)
            painter.drawText(
                QRectF(x, bottom - height - 18, slot, 16),
                Qt.AlignmentFlag.AlignCenter,
                f"{value:g}",
            )
            painter.drawText(
                QRectF(x, bottom + 4, slot, 32),
                Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap,
                label,
            )
        painter.end()
