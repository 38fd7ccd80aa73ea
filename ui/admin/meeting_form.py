"""The meeting form (title, times, late-after, location and radius, expected ministries,
liveness) and the meeting's rotating QR shown full-screen for phone check-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import QDateTime, Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from kiosk.admin_client import AdminClient
from kiosk.admin_types import Meeting, MeetingQr
from ui.admin.tasks import Tasks
from ui.qr_widget import QrWidget

LIVENESS = ("review_only", "always", "off")


def _edit(when: datetime) -> QDateTimeEdit:
    edit = QDateTimeEdit(QDateTime.fromSecsSinceEpoch(int(when.timestamp())))
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("yyyy-MM-dd HH:mm")
    return edit


def _iso(edit: QDateTimeEdit) -> str:
    return datetime.fromtimestamp(edit.dateTime().toSecsSinceEpoch(), UTC).isoformat()


class MeetingDialog(QDialog):
    def __init__(self, meeting: Meeting | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit meeting" if meeting else "New meeting")
        start = datetime.fromisoformat(meeting["starts_at"]) if meeting else datetime.now(UTC)
        end = datetime.fromisoformat(meeting["ends_at"]) if meeting else start + timedelta(hours=2)
        late = meeting["late_after"] if meeting else None
        self.title = QLineEdit(meeting["title"] if meeting else "")
        self.starts = _edit(start)
        self.ends = _edit(end)
        self.late = _edit(datetime.fromisoformat(late) if late else start + timedelta(minutes=15))
        self.location = QLineEdit(meeting["location_name"] if meeting else "")
        self.radius = QSpinBox(
            minimum=10, maximum=50_000, value=meeting["radius_m"] if meeting else 100
        )
        self.ministries = QLineEdit(", ".join(meeting["expected_ministries"]) if meeting else "")
        self.ministries.setPlaceholderText("e.g. Choir, Ushers (empty: everyone)")
        self.liveness = QComboBox()
        self.liveness.addItems(LIVENESS)
        if meeting:
            self.liveness.setCurrentText(meeting["liveness"])
        form = QFormLayout(self)
        for label, field in (
            ("Title", self.title),
            ("Starts", self.starts),
            ("Ends", self.ends),
            ("Late after", self.late),
            ("Location", self.location),
            ("Radius (m)", self.radius),
            ("Expected ministries", self.ministries),
            ("Liveness check", self.liveness),
        ):
            form.addRow(label, field)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def fields(self) -> dict[str, Any]:
        return {
            "title": self.title.text().strip(),
            "starts_at": _iso(self.starts),
            "ends_at": _iso(self.ends),
            "late_after": _iso(self.late),
            "location_name": self.location.text().strip(),
            "radius_m": self.radius.value(),
            "expected_ministries": [
                m.strip() for m in self.ministries.text().split(",") if m.strip()
            ],
            "liveness": self.liveness.currentText(),
        }


class QrScreen(QDialog):
    """The meeting's QR, full-screen, fetched again before each code expires."""

    def __init__(
        self, client: AdminClient, tasks: Tasks, meeting: Meeting, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Check in: {meeting['title']}")
        self.setStyleSheet("background: white; color: black;")
        self._client, self._tasks, self._meeting_id = client, tasks, meeting["id"]
        self.code = QrWidget()
        self.caption = QLabel(f"Scan to check in to {meeting['title']}")
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setObjectName("title")
        layout = QVBoxLayout(self)
        layout.addWidget(self.caption)
        layout.addWidget(self.code, 1)
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self.fetch)
        self.fetched = 0
        self.fetch()

    def fetch(self) -> None:
        meeting = self._meeting_id
        self._tasks.run(
            "Fetching the QR",
            lambda: self._client.meeting_qr(meeting),
            self._show,
            self.caption.setText,
        )

    def _show(self, qr: MeetingQr) -> None:
        self.fetched += 1
        self.code.set_payload(qr["url"])
        self._timer.start(max(5, qr["refresh_after_seconds"]) * 1000)

    def done(self, result: int) -> None:
        self._timer.stop()
        super().done(result)
