"""One person's attendance: find them by name, then every meeting that expected them
with the date, the meeting, on time / late / awaiting review / absent, and how they
checked in."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.admin.api_types import Member, MemberHistory
from kiosk.admin.client import AdminClient
from ui.admin.report_parts import METHODS, PRESENCE, fill_table, make_table, presence_word, when
from ui.admin.tasks import Tasks

SEARCH_DELAY_MS = 300  # typing pauses this long before the server is asked


class PersonHistoryTab(QWidget):
    def __init__(self, client: AdminClient, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client, self._tasks = client, tasks
        self.member_id = ""
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search a person by name")
        self.search.setClearButtonEnabled(True)
        self.people = QListWidget()
        self.people.setMinimumWidth(260)
        self.people.currentItemChanged.connect(self._on_person)
        self.name = QLabel("Choose a person on the left.")
        self.name.setObjectName("title")
        self.name.setWordWrap(True)
        self.figures = QLabel("")
        self.figures.setWordWrap(True)
        self.history = make_table(("Date", "Meeting", "Status", "Checked in", "Method"), 1)
        self._delay = QTimer(self)
        self._delay.setSingleShot(True)
        self._delay.setInterval(SEARCH_DELAY_MS)
        self._delay.timeout.connect(self.search_people)
        self.search.textChanged.connect(lambda _text: self._delay.start())
        self.search.returnPressed.connect(self.search_people)
        left = QVBoxLayout()
        left.addWidget(self.search)
        left.addWidget(self.people, 1)
        right = QVBoxLayout()
        right.addWidget(self.name)
        right.addWidget(self.figures)
        right.addWidget(self.history, 1)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 1)
        layout.addLayout(right, 3)

    def refresh(self) -> None:
        self.search_people()
        if self.member_id:
            self.show_history(self.member_id)

    def search_people(self) -> None:
        self._delay.stop()
        q = self.search.text().strip()
        self._tasks.run(
            "Finding people", lambda: self._client.members(q, limit=200)[0], self._found
        )

    def _found(self, members: list[Member]) -> None:
        self.people.blockSignals(True)
        self.people.clear()
        for m in members:
            item = QListWidgetItem(f"{m['full_name']} — {m['ministry']}")
            item.setData(Qt.ItemDataRole.UserRole, m["id"])
            self.people.addItem(item)
            if m["id"] == self.member_id:
                self.people.setCurrentItem(item)
        self.people.blockSignals(False)

    def _on_person(self, item: QListWidgetItem | None) -> None:
        if item is not None:
            self.show_history(str(item.data(Qt.ItemDataRole.UserRole)))

    def show_history(self, member_id: str) -> None:
        self.member_id = member_id
        self._tasks.run(
            "Loading the person's attendance",
            lambda: self._client.member_history(member_id),
            self._show,
            self.figures.setText,
        )

    def _show(self, history: MemberHistory) -> None:
        if history["member_id"] != self.member_id:
            return  # an answer for someone chosen before
        self.name.setText(history["full_name"])
        rate = history["attendance_rate"]
        self.figures.setText(
            f"{history['meetings']} meetings expected them: present at {history['present']} "
            f"({history['late']} late), absent from {history['absent']}"
            + ("" if rate is None else f" — {rate * 100:.0f}% attended.")
        )
        lines = list(reversed(history["history"]))  # the latest meeting first
        fill_table(
            self.history,
            [
                (
                    when(line["starts_at"], with_time=False),
                    line["title"],
                    presence_word(line["presence"]),
                    when(line["checked_in_at"]),
                    METHODS.get(line["method"] or "", line["method"] or ""),
                )
                for line in lines
            ],
            [PRESENCE[line["presence"]][1] for line in lines],
        )
