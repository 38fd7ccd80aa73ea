"""Review queue of one meeting, chosen and named at the top: pending check-ins with
similarity, margin, why they wait (when the server says) and the evidence crop; approve
or reject in one click; manual check-in with a reason, into that meeting; and how many
attempts were refused there."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.admin.api_types import Attendance, Json, Member
from kiosk.admin.client import AdminClient
from ui.admin.meeting_choice import MeetingChoice
from ui.admin.tasks import Tasks
from ui.admin.words import count


def describe(record: Attendance) -> str:
    similarity = f"{record['similarity']:.2f}" if record["similarity"] is not None else "-"
    margin = f"{record['margin']:.2f}" if record["margin"] is not None else "-"
    line = (
        f"{record['member_name']} ({record['ministry']}) · {record['method']} · "
        f"similarity {similarity} · margin {margin}"
    )
    reason = record.get("review_reason")
    return f"{line}\n{reason}" if reason else line


class ReviewView(QWidget):
    def __init__(self, client: AdminClient, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client, self._tasks = client, tasks
        self.choice = MeetingChoice(client, tasks)
        self.choice.changed.connect(self._load_queue)
        self.queue = QListWidget()
        self.evidence = QLabel("Select a check-in to see its face crop.")
        self.evidence.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.evidence.setMinimumSize(240, 240)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.approve_button = QPushButton("Approve")
        self.reject_button = QPushButton("Reject")
        self.manual_button = QPushButton("Manual check-in…")
        self.refresh_button = QPushButton("Refresh")
        self.approve_button.clicked.connect(lambda: self.decide("approve"))
        self.reject_button.clicked.connect(lambda: self.decide("reject"))
        self.manual_button.clicked.connect(self.ask_manual)
        self.refresh_button.clicked.connect(self.refresh)
        self.queue.currentItemChanged.connect(self._show_evidence)
        buttons = QHBoxLayout()
        for button in (
            self.approve_button,
            self.reject_button,
            self.manual_button,
            self.refresh_button,
        ):
            buttons.addWidget(button)
        body = QHBoxLayout()
        body.addWidget(self.queue, 2)
        body.addWidget(self.evidence, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.choice)
        layout.addLayout(body, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)

    @property
    def meeting_id(self) -> str:
        return self.choice.meeting_id

    def choose(self, meeting_id: str) -> None:
        self.choice.choose(meeting_id)

    def refresh(self) -> None:
        """Load the meetings, then the chosen meeting's queue."""
        self.choice.reload()

    def _load_queue(self, meeting: str) -> None:
        self.queue.clear()
        if not meeting:
            self._tasks.run("Loading the review queue", self._client.review_queue, self._waiting)
            return

        def load() -> tuple[list[Attendance], int]:
            return self._client.review_queue(meeting), self._client.attempts(meeting, limit=1)[
                "count"
            ]

        self._tasks.run("Loading the review queue", load, lambda got: self._loaded(meeting, *got))

    def _waiting(self, records: list[Attendance]) -> None:
        if not self.meeting_id:
            self.status.setText(
                f"{count(len(records), 'check-in')} waiting for review in all meetings. "
                "Choose the meeting above to review it or to check someone in by hand."
            )

    def _loaded(self, meeting: str, records: list[Attendance], attempts: int) -> None:
        if meeting != self.meeting_id:
            return  # the admin chose another meeting meanwhile
        self.queue.clear()
        for record in records:
            item = QListWidgetItem(describe(record))
            item.setData(Qt.ItemDataRole.UserRole, record)
            self.queue.addItem(item)
        refused = (
            f" {count(attempts, 'attempt')} refused or suspicious: see Attempts."
            if attempts
            else ""
        )
        self.status.setText(
            f"{count(len(records), 'check-in')} waiting for review at {self.choice.name()}."
            + refused
        )
        if records:
            self.queue.setCurrentRow(0)

    def current(self) -> Attendance | None:
        item = self.queue.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None  # type: ignore[no-any-return]

    def _show_evidence(self) -> None:
        record = self.current()
        if record is None or not record["has_evidence"]:
            self.evidence.setText("No face crop kept for this check-in.")
            return
        self._tasks.run(
            "Loading the face crop",
            lambda: self._client.evidence(record["id"]),
            self._evidence_loaded,
            self.evidence.setText,
        )

    def _evidence_loaded(self, jpeg: bytes) -> None:
        pixmap = QPixmap()
        pixmap.loadFromData(jpeg)
        self.evidence.setPixmap(pixmap.scaled(240, 240, Qt.AspectRatioMode.KeepAspectRatio))

    def decide(self, decision: str) -> None:
        record = self.current()
        if record is None:
            self.status.setText("Select a check-in first.")
            return
        verb = "approve" if decision == "approve" else "reject"
        self._tasks.run(
            "Saving the decision",
            lambda: self._client.decide(record["id"], verb),  # type: ignore[arg-type]
            lambda _: self._decided(record, verb),
            self.status.setText,
        )

    def _decided(self, record: Attendance, verb: str) -> None:
        self.refresh()
        self.status.setText(f"{record['member_name']}: {verb}d.")

    def ask_manual(self) -> None:
        """Pick the person by name (from the server), then give the reason."""
        if not self.meeting_id:
            self.status.setText("Choose the meeting above first: the check-in goes there.")
            return
        self._tasks.run(
            "Loading people",
            lambda: self._client.members(limit=500)[0],
            self._pick_person,
            self.status.setText,
        )

    def _pick_person(self, members: list[Member]) -> None:
        names = [f"{m['full_name']} ({m['ministry']}, {m['member_code']})" for m in members]
        where = f"Check in by hand at {self.choice.name()}"
        name, ok = QInputDialog.getItem(self, "Manual check-in", f"{where}:", names, 0, False)
        if not ok or name not in names:
            return
        reason, ok = QInputDialog.getText(self, "Manual check-in", f"{where}. Reason:")
        if ok:
            self.manual_checkin(members[names.index(name)], reason.strip())

    def manual_checkin(self, member: Member, reason: str) -> None:
        """Check `member` in by hand at the chosen meeting, saying who and where."""
        if not self.meeting_id:
            self.status.setText("Choose the meeting above first: the check-in goes there.")
            return
        if not reason:
            self.status.setText("Give a reason for the manual check-in.")
            return
        meeting, where = self.meeting_id, self.choice.name()
        self._tasks.run(
            "Checking in",
            lambda: self._client.manual_checkin(meeting, member["id"], reason),
            lambda answer: self.status.setText(checked_in(answer, member["full_name"], where)),
            self.status.setText,
        )


def checked_in(answer: Json, who: str, meeting: str) -> str:
    """The server's answer to a manual check-in as a sentence naming who and where."""
    if answer["result"] == "already_checked_in":
        return f"{who} was already checked in at {meeting}; nothing changed."
    return f"Checked in by hand: {who} at {meeting}."
