"""Meetings: the list; create, edit and copy; start, end, cancel and reopen; the QR; its
display links; and choosing the meeting the Live dashboard and Review queue follow.

The buttons follow the server's life cycle: each meeting says which actions it allows
now (`actions`) and what they mean (`next_steps`), shown under the list.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.admin.api_types import Kiosk, Meeting, Member
from kiosk.admin.client import AdminClient
from ui.admin.display_links import DisplayLinksDialog
from ui.admin.meeting_form import MeetingDialog, QrScreen
from ui.admin.tasks import Tasks
from ui.admin.times import local
from ui.admin.words import count

LIFE_CYCLE = {"Start": "start", "End": "end", "Cancel meeting": "cancel", "Reopen": "reopen"}
EDITABLE = ("scheduled", "active")  # the server refuses changes to ended or cancelled ones
REOPEN_FOR = timedelta(hours=1)
# "Links…" is short so the bar fits a 1280-wide window; the tip says what it opens.
TIPS = {
    "Links…": "Display links: the meeting's QR screen on a projector or TV without signing "
    "in; make one, see which still work, revoke one."
}
# Actions that stop check-ins: asked first, since a click by mistake turns people away.
CONFIRM = {
    "end": "End {title} now? Kiosks and phones stop taking its check-ins (Reopen undoes it).",
    "cancel": "Cancel {title}? No one can check in to it, and it cannot be started again.",
}  # a reopened meeting whose end time has passed runs this long


class MeetingsView(QWidget):
    chosen = Signal(object)  # the Meeting to follow live and review

    def __init__(self, client: AdminClient, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client, self._tasks = client, tasks
        self.list = QListWidget()
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.qr_screen: QrScreen | None = None
        self.display_links: DisplayLinksDialog | None = None
        self.form: MeetingDialog | None = None  # the open New / Edit form
        self.buttons: dict[str, QPushButton] = {}
        rows = (
            (("New…", self.new_meeting), ("Edit…", self.edit), ("Copy", self.copy)),
            tuple((label, lambda _=False, a=a: self.act(a)) for label, a in LIFE_CYCLE.items()),
            (
                ("Show QR", self.show_qr),
                ("Links…", self.show_display_links),
                ("Follow live", self.follow),
                ("Refresh", self.refresh),
            ),
        )
        bar = QHBoxLayout()
        for group in rows:
            for label, slot in group:
                button = QPushButton(label)
                button.setToolTip(TIPS.get(label, ""))
                button.clicked.connect(slot)
                bar.addWidget(button)
                self.buttons[label] = button
            bar.addSpacing(12)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.details)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        self.list.currentItemChanged.connect(lambda *_: self._selected())
        self._selected()

    def refresh(self) -> None:
        meeting = self.current()
        self.reload(meeting["id"] if meeting else None)

    def reload(self, select: str | None, said: str = "") -> None:
        """Load the list again, select the meeting whose id is `select`, then show `said`
        (what was just done) or how many meetings there are."""
        self._tasks.run(
            "Loading meetings",
            self._client.meetings,
            lambda found: self._loaded(found, select, said),
        )

    def _loaded(self, meetings: list[Meeting], select: str | None = None, said: str = "") -> None:
        self.list.clear()
        for meeting in meetings:
            item = QListWidgetItem(
                f"{meeting['title']} · {local(meeting['starts_at'])} · {meeting['status']}"
            )
            item.setData(Qt.ItemDataRole.UserRole, meeting)
            self.list.addItem(item)
            if meeting["id"] == select:
                self.list.setCurrentItem(item)
        self.status.setText(said or f"{count(len(meetings), 'meeting')}.")

    def current(self) -> Meeting | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None  # type: ignore[no-any-return]

    def _selected(self) -> None:
        """Enable what the chosen meeting's life cycle allows; say what that is."""
        meeting = self.current()
        allowed = set(meeting["actions"]) if meeting else set()
        for label, action in LIFE_CYCLE.items():
            self.buttons[label].setEnabled(action in allowed)
        for label in ("Copy", "Show QR", "Links…", "Follow live"):
            self.buttons[label].setEnabled(meeting is not None)
        self.buttons["Edit…"].setEnabled(meeting is not None and meeting["status"] in EDITABLE)
        self.details.setText(
            f"{meeting['title']} is {meeting['status']}: {meeting['next_steps']}."
            if meeting
            else "Select a meeting to change it, run it or show its QR code."
        )

    def _need(self) -> Meeting | None:
        meeting = self.current()
        if meeting is None:
            self.status.setText("Select a meeting first.")
        return meeting

    def act(self, action: str) -> None:
        """Start, end, cancel or reopen the selected meeting."""
        meeting = self._need()
        if meeting is None:
            return
        if action == "reopen":
            self.reopen(meeting)
            return
        question = CONFIRM.get(action)
        if question and not self._confirmed(question.format(title=meeting["title"])):
            self.status.setText(f"{meeting['title']}: nothing changed.")
            return
        self._tasks.run(
            "Updating the meeting",
            lambda: self._client.meeting_action(meeting["id"], action),  # type: ignore[arg-type]
            self._acted,
            self.status.setText,
        )

    def _confirmed(self, question: str) -> bool:
        answer = QMessageBox.question(self, "Please confirm", question)
        return answer == QMessageBox.StandardButton.Yes

    def reopen(self, meeting: Meeting) -> None:
        """Reopen; a meeting whose end time has passed runs one more hour from now."""
        ends = datetime.fromisoformat(meeting["ends_at"])
        now = datetime.now(UTC)
        later = (now + REOPEN_FOR).replace(microsecond=0) if ends <= now else None

        def done(reopened: Meeting) -> None:
            until = f" until {local(reopened['ends_at'])} (its end time had passed)"
            said = f"{reopened['title']}: reopened{until if later else ''}."
            self.reload(reopened["id"], said)

        self._tasks.run(
            "Reopening the meeting",
            lambda: self._client.reopen_meeting(
                meeting["id"], later.isoformat() if later else None
            ),
            done,
            self.status.setText,
        )

    def copy(self) -> None:
        """A new scheduled meeting like the selected one, a week later (edit it after)."""
        meeting = self._need()
        if meeting is None:
            return

        def done(made: Meeting) -> None:
            said = (
                f"Copied as a new meeting on {local(made['starts_at'])}: "
                "edit it to change its time or title."
            )
            self.reload(made["id"], said)

        self._tasks.run(
            "Copying the meeting",
            lambda: self._client.copy_meeting(meeting["id"]),
            done,
            self.status.setText,
        )

    def _acted(self, meeting: Meeting) -> None:
        self.reload(meeting["id"], f"{meeting['title']}: {meeting['status']}.")

    def new_meeting(self) -> None:
        self._open_form(None)

    def edit(self) -> None:
        meeting = self._need()
        if meeting is not None:
            self._open_form(meeting)

    def _open_form(self, meeting: Meeting | None) -> None:
        """Fetch the people and kiosks to choose from, then open the form (non-modal: the
        window keeps working; Save checks the form first, then sends it)."""

        def load() -> tuple[list[Member], list[Kiosk]]:
            people = self._client.all_members(status="active")
            return people, self._client.kiosks(include_revoked=True)

        def opened(choices: tuple[list[Member], list[Kiosk]]) -> None:
            self.form = MeetingDialog(meeting, self, *choices)
            self.form.accepted.connect(lambda: self._form_saved(meeting))
            self.form.open()

        self._tasks.run("Loading people and kiosks", load, opened, self.status.setText)

    def _form_saved(self, meeting: Meeting | None) -> None:
        if self.form is not None:
            self.save(meeting["id"] if meeting else None, self.form.fields())

    def save(self, meeting_id: str | None, fields: dict[str, object]) -> None:
        """Create (no id) or change a meeting; the server's refusal is shown as is."""

        def run() -> Meeting:
            if meeting_id is None:
                return self._client.create_meeting(**fields)
            return self._client.update_meeting(meeting_id, **fields)

        self._tasks.run("Saving the meeting", run, self._acted, self.status.setText)

    def show_qr(self) -> None:
        meeting = self._need()
        if meeting is None:
            return
        self.qr_screen = QrScreen(self._client, self._tasks, meeting, self)
        self.qr_screen.showFullScreen()

    def show_display_links(self) -> None:
        """The selected meeting's display links: make one, see them, revoke one."""
        meeting = self._need()
        if meeting is None:
            return
        self.display_links = DisplayLinksDialog(self._client, self._tasks, meeting, self)
        self.display_links.show()

    def follow(self) -> None:
        meeting = self._need()
        if meeting is not None:
            self.chosen.emit(meeting)
