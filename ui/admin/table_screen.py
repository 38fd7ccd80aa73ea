"""The shape the Kiosks and Admins screens share: a table of what the server lists, a row
of actions on the selected row, and a status line with the server's own sentences.

A subclass says how to load the rows (on a worker thread) and what cells a row shows;
`act` runs one change on the server, says what happened and reloads the table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.admin.client import AdminClient
from ui.admin.tasks import Tasks

Row = TypeVar("Row")


class TableScreen(QWidget, Generic[Row]):
    noun = "row"  # what one row is ("Loading rows…")
    a_noun = "a row"  # for "Select a row first."
    empty = ""  # what an empty list means and what to do, shown on the status line

    def __init__(
        self,
        client: AdminClient,
        tasks: Tasks,
        headers: tuple[str, ...],
        actions: Iterable[tuple[str, Callable[[], None]]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._client, self._tasks = client, tasks
        self.rows: list[Row] = []
        self.table = QTableWidget(0, len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)  # row numbers mean nothing here
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        for label, slot in (*actions, ("Refresh", self.refresh)):
            button = self.buttons[label] = QPushButton(label)
            button.clicked.connect(slot)
            row.addWidget(button)
        row.addStretch(1)
        self.layout_ = QVBoxLayout(self)
        self.layout_.addWidget(self.table, 1)
        self.layout_.addLayout(row)
        self.layout_.addWidget(self.status)

    # -- what a subclass says -------------------------------------------------------------

    def load(self) -> list[Row]:
        """The rows, from the server (runs on a worker thread)."""
        raise NotImplementedError

    def cells(self, row: Row) -> list[str]:
        raise NotImplementedError

    # -- the shared behaviour ---------------------------------------------------------------

    def refresh(self) -> None:
        self._tasks.run(f"Loading {self.noun}s", self.load, self.show_rows, self.status.setText)

    def show_rows(self, rows: list[Row]) -> None:
        self.rows = rows
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(self.cells(row)):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        if not rows and self.empty and not self.status.text():
            self.status.setText(self.empty)

    def selected(self) -> Row | None:
        """The selected row; none selected says so on the status line."""
        row = self.table.currentRow()
        if 0 <= row < len(self.rows) and self.table.selectionModel().hasSelection():
            return self.rows[row]
        self.status.setText(f"Select {self.a_noun} first.")
        return None

    def act(self, what: str, call: Callable[[], Any], said: Callable[[Any], str]) -> None:
        """Run `call` on the server; show `said(answer)` (or the server's refusal), reload."""

        def done(answer: Any) -> None:
            self.status.setText(said(answer))
            self.refresh()

        self._tasks.run(what, call, done, self.status.setText)
