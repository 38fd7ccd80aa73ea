"""Attempts: the check-ins a meeting refused or found suspicious, newest first.

The phone tells a refused member that "the admins can see it"; this is where they do:
when, which channel, who was claimed or matched, the reason in words, the similarity
and, for phones at a meeting with a place, whether the phone said it was there. The
server keeps no face crop of a refused attempt, and the detail line says so.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.admin.api_types import Attempt, AttemptsPage
from kiosk.admin.client import AdminClient
from ui.admin.meeting_choice import MeetingChoice
from ui.admin.tasks import Tasks
from ui.admin.times import CLOCK, DAY_AND_TIME, local
from ui.admin.words import count

SHOWN = 200  # the newest this many; the count says how many there are in all
PLACE = {
    "inside": "the phone said it was at the venue",
    "outside": "the phone said it was away from the venue",
    "unknown": "the phone did not say where it was",
}


def reason_in_words(attempt: Attempt) -> str:
    reason = attempt["reason"].strip() or "no reason was recorded"
    return reason[0].upper() + reason[1:]


def describe(attempt: Attempt) -> str:
    """One line of the list: time, channel, outcome, who, and the reason."""
    who = attempt["member_name"] or "someone unknown"
    return (
        f"{local(attempt['at'], CLOCK)} · {attempt['channel']} · {attempt['outcome']} · "
        f"{who} — {reason_in_words(attempt)}"
    )


def details(attempt: Attempt) -> str:
    """Everything recorded about one attempt, in sentences."""
    lines = [
        f"{local(attempt['at'], DAY_AND_TIME)}: {attempt['outcome']} on a {attempt['channel']}.",
        f"Who: {attempt['member_name'] or 'not known (no member was claimed or matched)'}.",
        f"Reason: {reason_in_words(attempt)}.",
    ]
    if attempt["similarity"] is not None:
        lines.append(f"Similarity to that member: {attempt['similarity']:.2f}.")
    if attempt["location_flag"] in PLACE:
        lines.append(f"Place: {PLACE[attempt['location_flag']]}.")
    if attempt["client_ip"]:
        lines.append(f"From address {attempt['client_ip']}.")
    lines.append("No face crop is kept for a refused attempt.")
    return "\n".join(lines)


class AttemptsView(QWidget):
    def __init__(self, client: AdminClient, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client, self._tasks = client, tasks
        self.choice = MeetingChoice(client, tasks)
        self.choice.changed.connect(self._load)
        self.list = QListWidget()
        self.detail = QLabel("Select an attempt to see everything recorded about it.")
        self.detail.setWordWrap(True)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        self.list.currentItemChanged.connect(self._selected)
        body = QHBoxLayout()
        body.addWidget(self.list, 2)
        body.addWidget(self.detail, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(refresh)
        layout = QVBoxLayout(self)
        layout.addWidget(self.choice)
        layout.addLayout(body, 1)
        layout.addLayout(bottom)

    def choose(self, meeting_id: str) -> None:
        self.choice.choose(meeting_id)

    def refresh(self) -> None:
        """Load the meetings, then the chosen meeting's attempts."""
        self.choice.reload()

    def _load(self, meeting: str) -> None:
        self.list.clear()
        if not meeting:
            self.status.setText("Choose a meeting above to see its refused attempts.")
            return
        self._tasks.run(
            "Loading refused attempts",
            lambda: self._client.attempts(meeting, limit=SHOWN),
            lambda page: self._loaded(meeting, page),
            self.status.setText,
        )

    def _loaded(self, meeting: str, page: AttemptsPage) -> None:
        if meeting != self.choice.meeting_id:
            return  # the admin chose another meeting meanwhile
        self.list.clear()
        for attempt in page["data"]:
            item = QListWidgetItem(describe(attempt))
            item.setData(Qt.ItemDataRole.UserRole, attempt)
            self.list.addItem(item)
        shown = "" if page["count"] <= len(page["data"]) else f" (the newest {len(page['data'])})"
        self.status.setText(
            f"{count(page['count'], 'attempt')} refused or suspicious at "
            f"{self.choice.name()}{shown}, newest first."
        )
        if page["data"]:
            self.list.setCurrentRow(0)
        else:
            self.detail.setText("Nothing was refused at this meeting.")

    def current(self) -> Attempt | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None  # type: ignore[no-any-return]

    def _selected(self) -> None:
        attempt = self.current()
        if attempt is not None:
            self.detail.setText(details(attempt))
