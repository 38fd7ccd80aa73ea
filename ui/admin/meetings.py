"""Meetings: the list, start / end / cancel, and choosing the meeting the Live dashboard
and Review queue follow."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
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
from ui.admin.meeting_form import MeetingDialog, QrScreen
from ui.admin.tasks import Tasks


class MeetingsView(QWidget):
    chosen = Signal(object)  # the Meeting to follow live and review

    def __init__(self, client: AdminClient, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client, self._tasks = client, tasks
        self.list = QListWidget()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.qr_screen: QrScreen | None = None
        buttons = QHBoxLayout()
        for label, slot in (
            ("New…", self.new_meeting),
            ("Edit…", self.edit),
            ("Show QR", self.show_qr),
        ):
            button = QPushButton(label)
            button.clicked.connect(slot)
            buttons.addWidget(button)
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

    def new_meeting(self) -> None:
        dialog = MeetingDialog(parent=self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.save(None, dialog.fields())

    def edit(self) -> None:
        meeting = self.current()
        if meeting is None:
            self.status.setText("Select a meeting first.")
            return
        dialog = MeetingDialog(meeting, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.save(meeting["id"], dialog.fields())

    def save(self, meeting_id: str | None, fields: dict[str, object]) -> None:
        """Create (no id) or change a meeting; the server's refusal is shown as is."""

        def run() -> Meeting:
            if meeting_id is None:
                return self._client.create_meeting(**fields)
            return self._client.update_meeting(meeting_id, **fields)

        self._tasks.run("Saving the meeting", run, self._acted, self.status.setText)

    def show_qr(self) -> None:
        meeting = self.current()
        if meeting is None:
            self.status.setText("Select a meeting first.")
            return
        self.qr_screen = QrScreen(self._client, self._tasks, meeting, self)
        self.qr_screen.showFullScreen()

    def follow(self) -> None:
        meeting = self.current()
        if meeting is None:
            self.status.setText("Select a meeting first.")
            return
        self.chosen.emit(meeting)
