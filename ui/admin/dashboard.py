"""Live dashboard of one meeting: present, late, pending review and absent, from events,
and how many attempts were refused or looked suspicious (the Attempts screen lists them).

The meeting's event stream runs on a worker thread (`kiosk.admin.live_stream`, reconnecting
after a drop); each event triggers a fresh meeting report from the backend, so the
counts and lists are always the server's.
"""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QListWidget, QVBoxLayout, QWidget

from kiosk.admin.api_types import Json, LiveEvent, MeetingReport
from kiosk.admin.client import AdminClient
from kiosk.admin.live_stream import LiveStream
from ui.admin.tasks import Tasks

GROUPS = (
    ("present", "Present"),
    ("late", "Late"),
    ("pending_review", "Pending"),
    ("absent", "Absent"),
)


class _Relay(QObject):
    arrived = Signal(object)
    state = Signal(str)


class DashboardView(QWidget):
    def __init__(self, client: AdminClient, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client, self._tasks = client, tasks
        self.meeting_id = ""
        self._stream: LiveStream | None = None
        self._thread: threading.Thread | None = None
        self._relay = _Relay(self)
        self._relay.arrived.connect(self._on_event)
        self._relay.state.connect(self._on_state)
        self.events_seen = 0
        self.title = QLabel("Choose a meeting on the Meetings screen.")
        self.title.setObjectName("title")
        self.connection = QLabel("")
        self.attempts = QLabel("")
        self.counts: dict[str, QLabel] = {}
        self.lists: dict[str, QListWidget] = {}
        grid = QGridLayout()
        for column, (key, label) in enumerate(GROUPS):
            self.counts[key] = QLabel(f"{label}: -")
            self.counts[key].setObjectName("count")
            self.lists[key] = QListWidget()
            grid.addWidget(self.counts[key], 0, column)
            grid.addWidget(self.lists[key], 1, column)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.connection)
        layout.addWidget(self.attempts)
        layout.addLayout(grid, 1)

    def watch(self, meeting_id: str) -> None:
        """Follow `meeting_id`: load its report now and open its event stream."""
        self.stop()
        self.meeting_id = meeting_id
        self.refresh()
        stream = LiveStream(
            self._client, meeting_id, self._relay.arrived.emit, self._relay.state.emit
        )
        self._stream = stream
        self._thread = threading.Thread(target=stream.run, name="admin: live events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()
        if self._thread is not None:
            self._thread.join(5.0)
        self._stream = self._thread = None

    def refresh(self) -> None:
        meeting = self.meeting_id
        if not meeting:
            return

        def load() -> tuple[MeetingReport, int]:
            report = self._client.meeting_report(meeting)
            return report, self._client.attempts(meeting, limit=1)["count"]

        self._tasks.run("Loading the meeting", load, lambda got: self._show(*got))

    def _on_event(self, _event: LiveEvent) -> None:
        self.events_seen += 1
        self.refresh()

    def _on_state(self, text: str) -> None:
        self.connection.setText(text)

    def _show(self, report: MeetingReport, attempts: int) -> None:
        if report["meeting_id"] != self.meeting_id:
            return  # an answer about the meeting followed before
        self.title.setText(f"{report['title']} — expected {report['expected']}")
        self.attempts.setText(
            f"Refused or suspicious attempts: {attempts} (the Attempts screen lists them)."
            if attempts
            else "No attempt refused so far."
        )
        people: list[Any] = list(report["people"])
        for key, label in GROUPS:
            self.counts[key].setText(f"{label}: {report.get(key, 0)}")
            self.lists[key].clear()
        for person in people:
            for key in self._groups_of(person):
                self.lists[key].addItem(f"{person['full_name']} ({person['ministry']})")

    @staticmethod
    def _groups_of(person: Json) -> list[str]:
        presence = str(person.get("presence", ""))
        if presence == "late":
            return ["present", "late"]
        return [presence] if presence in ("present", "pending_review", "absent") else []
