"""The meeting a screen works on, chosen by the admin from a drop-down and named there.

Review, manual check-in and the Attempts view act on one meeting; the admin picks it
here (following a meeting live chooses it too), so no screen works on a meeting it does
not show.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from kiosk.admin.api_types import Meeting
from kiosk.admin.client import AdminClient
from ui.admin.tasks import Tasks
from ui.admin.times import DAY_AND_TIME, local

PROMPT = "Choose a meeting…"


def meeting_name(meeting: Meeting) -> str:
    """The meeting as people say it: its title and when it starts."""
    return f"{meeting['title']} ({local(meeting['starts_at'], DAY_AND_TIME)})"


class MeetingChoice(QWidget):
    # The chosen meeting's id ("" when none): on a new choice, and after every reload,
    # so the screen shows it afresh.
    changed = Signal(str)

    def __init__(self, client: AdminClient, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client, self._tasks = client, tasks
        self._wanted = ""  # chosen before the list arrived
        self.combo = QComboBox()
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.combo.setMinimumContentsLength(36)
        self.combo.addItem(PROMPT, "")
        self.combo.currentIndexChanged.connect(lambda _: self.changed.emit(self.meeting_id))
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Meeting:"))
        row.addWidget(self.combo, 1)
        self._meetings: dict[str, Meeting] = {}

    @property
    def meeting_id(self) -> str:
        return str(self.combo.currentData() or "")

    @property
    def meeting(self) -> Meeting | None:
        return self._meetings.get(self.meeting_id)

    def name(self) -> str:
        """The chosen meeting in words ("" when none is chosen)."""
        meeting = self.meeting
        return meeting_name(meeting) if meeting else ""

    def choose(self, meeting_id: str) -> None:
        """Choose `meeting_id`: now if listed, else once the list (loaded again) arrives."""
        index = self.combo.findData(meeting_id)
        if index >= 0:
            self.combo.setCurrentIndex(index)
        else:
            self._wanted = meeting_id
            self.reload()

    def reload(self) -> None:
        """Load the meetings again, keeping the choice."""
        self._tasks.run("Loading meetings", self._client.meetings, self.show_meetings)

    def show_meetings(self, meetings: list[Meeting]) -> None:
        keep = self._wanted or self.meeting_id
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem(PROMPT, "")
        self._meetings = {m["id"]: m for m in meetings}
        for meeting in meetings:
            state = "" if meeting["status"] == "scheduled" else f" — {meeting['status']}"
            self.combo.addItem(meeting_name(meeting) + state, meeting["id"])
        self.combo.setCurrentIndex(max(0, self.combo.findData(keep)))
        self.combo.blockSignals(False)
        self._wanted = ""
        self.changed.emit(self.meeting_id)
