"""A meeting's display links: make one for a projector or TV, see which still work, revoke one.

A display link opens the meeting's presenter page (title, count present, the live QR
code) on a screen nobody signs in on. Its URL, which carries the key, is shown once, when
it is made; afterwards the list shows when each link was made, by whom, when it expires
and when a screen last used it, and Revoke stops that one link alone, at the screen's
next fetch.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.admin.api_types import DisplayLink, DisplayLinkMade, Meeting
from kiosk.admin.client import AdminClient
from ui.admin.tasks import Tasks
from ui.admin.times import local
from ui.admin.words import count

HEADERS = ("Made", "Made by", "Expires", "Last used by a screen")


def row_of(link: DisplayLink) -> list[str]:
    return [
        local(link["created_at"]),
        link["created_by"] or "-",
        local(link["expires_at"]),
        local(link["last_used_at"], missing="not yet"),
    ]


class DisplayLinksDialog(QDialog):
    """The display links of one meeting (non-modal; every call runs through `Tasks`)."""

    def __init__(
        self, client: AdminClient, tasks: Tasks, meeting: Meeting, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._client, self._tasks, self.meeting = client, tasks, meeting
        self.setWindowTitle(f"Display links: {meeting['title']}")
        self.setMinimumWidth(640)
        intro = QLabel(
            "A display link shows this meeting's presenter page (title, count present, "
            "the check-in QR code) on a projector or TV without signing in. It works for "
            "a day at most; revoke one you no longer trust."
        )
        intro.setWordWrap(True)
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.link = QLineEdit()
        self.link.setReadOnly(True)
        self.link.setPlaceholderText("A new link's address appears here, once.")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.buttons: dict[str, QPushButton] = {}
        bar = QHBoxLayout()
        for label, slot in (
            ("New link", self.make),
            ("Copy the link", self.copy),
            ("Revoke", self.revoke_selected),
            ("Refresh", self.refresh),
        ):
            button = QPushButton(label)
            button.clicked.connect(slot)
            bar.addWidget(button)
            self.buttons[label] = button
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (intro, self.table, self.link):
            layout.addWidget(widget)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(close)
        self.links: list[DisplayLink] = []
        self.table.itemSelectionChanged.connect(self._selected)
        self._selected()
        self.refresh()

    def refresh(self, said: str = "") -> None:
        self._tasks.run(
            "Loading display links",
            lambda: self._client.display_links(self.meeting["id"]),
            lambda found: self._loaded(found, said),
            self.status.setText,
        )

    def _loaded(self, links: list[DisplayLink], said: str = "") -> None:
        self.links = links
        self.table.setRowCount(len(links))
        for row, link in enumerate(links):
            for column, text in enumerate(row_of(link)):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, link["id"])
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        working = count(len(links), "display link")
        self.status.setText(said or f"{working} of this meeting still working.")
        self._selected()

    def _selected(self) -> None:
        self.buttons["Revoke"].setEnabled(self.selected() is not None)
        self.buttons["Copy the link"].setEnabled(bool(self.link.text()))

    def selected(self) -> DisplayLink | None:
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        return self.links[rows.pop()] if len(rows) == 1 else None

    def make(self) -> None:
        def made(link: DisplayLinkMade) -> None:
            self.link.setText(link["url"])
            self.link.setCursorPosition(0)
            self.refresh(
                f"New link made, working until {local(link['expires_at'])}: copy it now "
                "and open it on the screen; it is not shown again."
            )

        self._tasks.run(
            "Making a display link",
            lambda: self._client.make_display_link(self.meeting["id"]),
            made,
            self.status.setText,
        )

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.link.text())
        self.status.setText("Copied. Open it in the screen's browser.")

    def revoke_selected(self) -> None:
        link = self.selected()
        if link is None:
            self.status.setText("Select the link to revoke first.")
            return
        made = local(link["created_at"])
        self._tasks.run(
            "Revoking the display link",
            lambda: self._client.revoke_display_link(link["id"]),
            lambda _: self.refresh(f"The link made {made} is revoked: its screen stops now."),
            self.status.setText,
        )
