"""Meetings: the list, start / end / cancel, and choosing the meeting the Live dashboard
and Review queue follow."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.admin_client import AdminClient
from kiosk.admin_types import Meeting
from ui.admin.tasks import Tasks


class MeetingsView(QWidget):
    chosen = Signal(object)  # the Meeting to follow live and review

    def __init__(self, client: AdminClient, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client, self._tasks = client, tasks
        self.list = QListWidget()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        for label, action in (("Start", "start"), ("End", "end"), ("Cancel meeting", "cancel")):
            button = QPushButton(label)
            button.clicked.connect(lambda _=False, a=action: self.act(a))
            buttons.addWidget(button)
        follow = QPushButton("Follow live")
        follow.clicked.connect(self.follow)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        buttons.addWidget(follow)
        buttons.addWidget(refresh)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)

    def refresh(self) -> None:
        self._tasks.run("Loading meetings", self._client.meetings, self._loaded)

    def _loaded(self, meetings: list[Meeting]) -> None:
        self.list.clear()
        for meeting in meetings:
            item = QListWidgetItem(
                f"{meeting['title']} · {meeting['starts_at'][:16].replace('T', ' ')} · "
                f"{meeting['status']}"
            )
            item.setData(Qt.ItemDataRole.UserRole, meeting)
            self.list.addItem(item)
        self.status.setText(f"{len(meetings)} meeting(s).")

    def current(self) -> Meeting | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None  # type: ignore[no-any-return]

    def act(self, action: str) -> None:
        meeting = self.current()
        if meeting is None:
            self.status.setText("Select a meeting first.")
            return
        self._tasks.run(
            "Updating the meeting",
            lambda: self._client.meeting_action(meeting["id"], action),  # type: ignore[arg-type]
            self._acted,
            self.status.setText,
        )

    def _acted(self, meeting: Meeting) -> None:
        self.status.setText(f"{meeting['title']}: {meeting['status']}.")
        self.refresh()

    def follow(self) -> None:
        meeting = self.current()
        if meeting is None:
            self.status.setText("Select a meeting first.")
            return
        self.chosen.emit(meeting)
