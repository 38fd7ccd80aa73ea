"""Pieces the report tabs share: presence words and colours, dates, read-only tables."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from ui.admin.times import DAY, DAY_AND_TIME, local

# The backend's presence values, in the order the charts stack them.
PRESENCE = {
    "present": ("On time", QColor("#27ae60")),
    "late": ("Late", QColor("#f39c12")),
    "pending_review": ("Awaiting review", QColor("#8e9aaf")),
    "absent": ("Absent", QColor("#e74c3c")),
}
METHODS = {
    "face": "Face",
    "badge+face": "Badge and face",
    "qr": "Phone (QR)",
    "phone": "Phone",
    "manual": "Manual",
}


def presence_word(presence: str) -> str:
    return PRESENCE[presence][0] if presence in PRESENCE else presence


def when(iso: str | None, *, with_time: bool = True) -> str:
    """An ISO time from the server as a local date (and time), or "" for none."""
    return local(iso, DAY_AND_TIME if with_time else DAY)


def percent(rate: float | None) -> str:
    return "no one expected" if rate is None else f"{rate * 100:.0f}% attended"


def make_table(headers: Sequence[str], stretch: int) -> QTableWidget:
    """A read-only table whose `stretch` column takes the spare width."""
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.verticalHeader().setVisible(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return table


def fill_table(
    table: QTableWidget, rows: Sequence[Sequence[str]], colors: Sequence[QColor | None] = ()
) -> None:
    """Replace the rows; a row's colour (when given) tints its text."""
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        color = colors[r] if r < len(colors) else None
        for c, text in enumerate(row):
            item = QTableWidgetItem(text)
            if color is not None:
                item.setForeground(color.darker(130))
            table.setItem(r, c, item)


def cells(table: QTableWidget) -> list[list[str]]:
    """The table's text, row by row (what the admin reads)."""
    return [
        [(table.item(r, c) or QTableWidgetItem()).text() for c in range(table.columnCount())]
        for r in range(table.rowCount())
    ]
