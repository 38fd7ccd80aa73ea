"""A bar chart painted with QPainter (Qt Charts is deprecated since Qt 6.10).

Categories along the bottom, one bar each; with several series the bars are stacked and
a legend names them. A grid with round values, each bar's total above it, labels elided
to their slot (the whole label and every value in the bar's tooltip).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QHelpEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QToolTip, QWidget

BAR = QColor("#2e86de")
TEXT = QColor("#333333")
GRID = QColor("#dddddd")
TITLE_H, LEGEND_H, LABEL_H, AXIS_W = 28.0, 24.0, 40.0, 44.0


@dataclass(frozen=True)
class Series:
    name: str
    color: QColor
    values: tuple[float, ...]  # one per category


def nice_top(peak: float, *, whole: bool = False) -> tuple[float, float]:
    """The axis top and its grid step: a 1, 2 or 5 step, at most five lines (a whole
    step for counts)."""
    if peak <= 0:
        return 1.0, 1.0 if whole else 0.25
    raw = max(peak / 5, 1.0) if whole else peak / 5
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return round(math.ceil(peak / step - 1e-9) * step, 9), step


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


class BarChart(QWidget):
    def __init__(
        self,
        title: str,
        *,
        maximum: float | None = None,
        suffix: str = "",
        whole: bool = False,
        timeline: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.title = title
        self.maximum, self.suffix = maximum, suffix  # a fixed axis top (100 for rates)
        self.whole = whole  # counts: grid lines on whole numbers
        self.timeline = timeline  # crowded labels: every n-th one whole, not each elided
        self.categories: list[str] = []
        self.series: list[Series] = []
        self.empty_text = "No data yet."
        self.setMinimumSize(320, 240)
        self.setMouseTracking(True)

    def set_bars(self, bars: list[tuple[str, float]], color: QColor = BAR) -> None:
        """One series: a label and a value per bar."""
        self.set_data([label for label, _ in bars], [Series("", color, tuple(v for _, v in bars))])

    def set_data(self, categories: list[str], series: list[Series]) -> None:
        if any(len(s.values) != len(categories) for s in series):
            raise ValueError("every series needs one value per category")
        self.categories, self.series = list(categories), list(series)
        self.update()

    def values(self, name: str = "") -> dict[str, float]:
        """The named series' value per category (what the bars show)."""
        found = next(s for s in self.series if s.name == name)
        return dict(zip(self.categories, found.values, strict=True))

    def label_step(self) -> int:
        """A label under every bar, or on a crowded timeline under every n-th one."""
        if not self.timeline or not self.categories:
            return 1
        widest = max(self.fontMetrics().horizontalAdvance(c) for c in self.categories) + 12
        return max(1, math.ceil(widest / self._slot(self._plot())))

    def totals(self) -> list[float]:
        return [sum(s.values[i] for s in self.series) for i in range(len(self.categories))]

    # -- painting ----------------------------------------------------------------------

    def _plot(self) -> QRectF:
        top = TITLE_H + (LEGEND_H if len(self.series) > 1 else 0) + 18  # room for totals
        return QRectF(AXIS_W, top, self.width() - AXIS_W - 10, self.height() - top - LABEL_H)

    def _slot(self, plot: QRectF) -> float:
        return plot.width() / max(1, len(self.categories))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        bold = QFont(self.font())
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(TEXT)
        painter.drawText(
            QRectF(0, 0, self.width(), TITLE_H), Qt.AlignmentFlag.AlignCenter, self.title
        )
        painter.setFont(self.font())
        if not self.categories:
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.empty_text)
            painter.end()
            return
        if len(self.series) > 1:
            self._legend(painter)
        plot = self._plot()
        top, step = nice_top(self.maximum or max(self.totals()), whole=self.whole)
        self._grid(painter, plot, top, step)
        step = self.label_step()
        for i in range(len(self.categories)):
            self._bar(painter, plot, top, i)
            self._label(painter, plot, i, step)
        painter.end()

    def _bar(self, painter: QPainter, plot: QRectF, top: float, i: int) -> None:
        """Category `i`: its stacked parts (each part's count inside when it fits) and the
        total above when it fits."""
        slot, metrics = self._slot(plot), painter.fontMetrics()
        x, base = plot.left() + i * slot, plot.bottom()
        width = min(slot * 0.7, 90.0)
        for s in self.series:
            height = plot.height() * s.values[i] / top
            segment = QRectF(x + (slot - width) / 2, base - height, width, height)
            painter.fillRect(segment, s.color)
            if len(self.series) > 1 and s.values[i] and height >= metrics.height():
                painter.setPen(Qt.GlobalColor.white)
                painter.drawText(segment, Qt.AlignmentFlag.AlignCenter, _number(s.values[i]))
            base -= height
        painter.setPen(TEXT)
        total = _number(sum(s.values[i] for s in self.series)) + self.suffix
        if metrics.horizontalAdvance(total) <= slot:
            painter.drawText(QRectF(x, base - 18, slot, 16), Qt.AlignmentFlag.AlignCenter, total)

    def _label(self, painter: QPainter, plot: QRectF, i: int, step: int) -> None:
        if i % step:
            return
        slot, label = self._slot(plot), self.categories[i]
        if step == 1:
            label = painter.fontMetrics().elidedText(
                label, Qt.TextElideMode.ElideRight, int(slot) - 4
            )
        middle = plot.left() + (i + 0.5) * slot
        painter.drawText(
            QRectF(middle - slot * step / 2, plot.bottom() + 4, slot * step, LABEL_H - 4),
            Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
            label,
        )

    def _grid(self, painter: QPainter, plot: QRectF, top: float, step: float) -> None:
        lines = round(top / step)
        for n in range(lines + 1):
            y = plot.bottom() - plot.height() * n / lines
            painter.setPen(GRID if n else TEXT)
            painter.drawLine(int(plot.left()), int(y), int(plot.right()), int(y))
            painter.setPen(TEXT)
            painter.drawText(
                QRectF(0, y - 9, AXIS_W - 6, 18),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                _number(n * step),
            )

    def _legend(self, painter: QPainter) -> None:
        metrics = painter.fontMetrics()
        widths = [14 + 6 + metrics.horizontalAdvance(s.name) + 18 for s in self.series]
        x = max(4.0, (self.width() - sum(widths)) / 2)
        for s, width in zip(self.series, widths, strict=True):
            painter.fillRect(QRectF(x, TITLE_H + 5, 14, 14), s.color)
            painter.setPen(TEXT)
            painter.drawText(
                QRectF(x + 20, TITLE_H, width - 20, LEGEND_H),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                s.name,
            )
            x += width

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            text = self.tooltip_at(event.pos().x())
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
            return True
        return super().event(event)

    def tooltip_at(self, x: float) -> str:
        """The whole label and every series' value of the bar under `x`."""
        plot = self._plot()
        if not self.categories or not plot.left() <= x < plot.right():
            return ""
        i = int((x - plot.left()) // self._slot(plot))
        parts = [f"{s.name or 'Value'}: {_number(s.values[i])}{self.suffix}" for s in self.series]
        return "\n".join([self.categories[i], *parts])
