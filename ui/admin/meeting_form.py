"""The meeting form (title, times, an optional late-after time, location with its map
position and radius, expected ministries and people, the kiosks that take it, QR policy,
liveness) and the meeting's rotating QR shown full-screen for phone check-in.

The form refuses what cannot work before anything is sent (a sentence under the fields
says what to change, and the dialog stays open); what only the server can judge (an
unknown person, a meeting that has ended) comes back as the server's own sentence.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import QDateTime, Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from kiosk.admin.api_types import Kiosk, Meeting, MeetingQr, Member
from kiosk.admin.client import AdminClient
from ui.admin.pickers import KioskPicker, PeoplePicker
from ui.admin.screen_fit import fit_to_screen
from ui.admin.tasks import Tasks
from ui.qr_widget import QrWidget

# (value the server takes, what the admin reads)
LIVENESS = (
    ("review_only", "Only when the face match is uncertain"),
    ("always", "Always (turn the head for every check-in)"),
    ("never", "Never"),
)
QR_POLICIES = (
    ("until_end", "Until the meeting ends"),
    ("max_scans", "Until this many scans"),
    ("minutes", "For this many minutes from the start"),
)


def _edit(when: datetime) -> QDateTimeEdit:
    edit = QDateTimeEdit(QDateTime.fromSecsSinceEpoch(int(when.timestamp())))
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("yyyy-MM-dd HH:mm")
    return edit


def _when(edit: QDateTimeEdit) -> datetime:
    return datetime.fromtimestamp(edit.dateTime().toSecsSinceEpoch(), UTC)


def _choices(options: tuple[tuple[str, str], ...], current: str) -> QComboBox:
    combo = QComboBox()
    for value, label in options:
        combo.addItem(label, value)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    return combo


def _number(text: str) -> float | None:
    """`text` as a number (a decimal comma allowed); None when empty; ValueError if not."""
    text = text.strip().replace(",", ".")
    return float(text) if text else None


def _coordinate(text: str, name: str, limit: int, example: str) -> float | None:
    try:
        value = _number(text)
    except ValueError:
        value = float("nan")
    if value is None or -limit <= value <= limit:
        return value
    raise ValueError(
        f"{name} must be a number from -{limit} to {limit} (e.g. {example}), "
        "or leave both map fields empty."
    )


class MeetingDialog(QDialog):
    def __init__(
        self,
        meeting: Meeting | None = None,
        parent: QWidget | None = None,
        people: Iterable[Member] = (),
        kiosks: Iterable[Kiosk] = (),
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit meeting" if meeting else "New meeting")
        start = datetime.fromisoformat(meeting["starts_at"]) if meeting else datetime.now(UTC)
        end = datetime.fromisoformat(meeting["ends_at"]) if meeting else start + timedelta(hours=2)
        late = meeting["late_after"] if meeting else None
        self.title = QLineEdit(meeting["title"] if meeting else "")
        self.description = QLineEdit(meeting["description"] if meeting else "")
        self.starts = _edit(start)
        self.ends = _edit(end)
        # A new meeting marks people late 15 minutes in; one saved without a late-after
        # time marks nobody late, and editing it keeps it that way.
        marks_late = meeting is None or late is not None
        self.marks_late = QCheckBox("Mark people late after")
        self.marks_late.setChecked(marks_late)
        self.late = _edit(datetime.fromisoformat(late) if late else start + timedelta(minutes=15))
        self.late.setEnabled(marks_late)
        self.marks_late.toggled.connect(self.late.setEnabled)
        self.marks_late.toggled.connect(self._recheck)
        self.location = QLineEdit(meeting["location_name"] if meeting else "")
        self.latitude = QLineEdit(_text(meeting["latitude"]) if meeting else "")
        self.longitude = QLineEdit(_text(meeting["longitude"]) if meeting else "")
        self.latitude.setPlaceholderText("degrees north, e.g. 5.6037")
        self.latitude.setToolTip("Leave both map fields empty for no place check.")
        self.longitude.setPlaceholderText("degrees east, e.g. -0.1870")
        self.radius = QSpinBox(
            minimum=10, maximum=50_000, value=meeting["radius_m"] if meeting else 100, suffix=" m"
        )
        self.ministries = QLineEdit(", ".join(meeting["expected_ministries"]) if meeting else "")
        self.ministries.setPlaceholderText("e.g. Choir, Ushers")
        self.people = PeoplePicker(people, meeting["expected_member_ids"] if meeting else ())
        self.kiosks = KioskPicker(kiosks, meeting["kiosk_ids"] if meeting else ())
        # Listing nobody, kiosks get nobody's face for the meeting unless this is ticked.
        self.everyone = QCheckBox("Everyone: its kiosks hold every member's face")
        self.everyone.setChecked(meeting["open_to_everyone"] if meeting else False)
        self.everyone.setToolTip(
            "Kiosks hold only the faces of the people a meeting expects. Tick this for a "
            "meeting open to all members; better, list its ministries or people."
        )
        self.everyone.toggled.connect(self._recheck)
        self.ministries.textChanged.connect(self._recheck)
        self.qr_policy = _choices(QR_POLICIES, meeting["qr_policy"] if meeting else "until_end")
        self.qr_max_scans = QSpinBox(minimum=1, maximum=100_000, suffix=" scans")
        self.qr_max_scans.setValue(meeting["qr_max_scans"] or 100 if meeting else 100)
        self.qr_minutes = QSpinBox(minimum=1, maximum=24 * 60, suffix=" min")
        self.qr_minutes.setValue(meeting["qr_valid_minutes"] or 30 if meeting else 30)
        self.qr_rotation = QSpinBox(minimum=10, maximum=3600, suffix=" s")
        self.qr_rotation.setValue(meeting["qr_rotation_seconds"] if meeting else 30)
        self.qr_policy.currentIndexChanged.connect(self._policy_changed)
        self.liveness = _choices(LIVENESS, meeting["liveness"] if meeting else "review_only")
        self.error = QLabel("")
        self.error.setStyleSheet("color: #b00020; font-weight: bold;")
        self.error.setWordWrap(True)
        self.error.setMinimumHeight(2 * self.error.fontMetrics().lineSpacing() + 4)
        for edit in (self.title, self.latitude, self.longitude):
            edit.textChanged.connect(self._recheck)
        for when in (self.starts, self.ends, self.late):
            when.dateTimeChanged.connect(self._recheck)
        self._lay_out()
        self._policy_changed()

    def _lay_out(self) -> None:
        """Two columns (when and where, then who and how), so the form fits a 1366x768 or
        1280x720 screen with its Save and Cancel in view."""
        when_where = QFormLayout()
        for label, field in (
            ("Title", self.title),
            ("Description", self.description),
            ("Starts", self.starts),
            ("Ends", self.ends),
            ("Late", _row(self.marks_late, self.late)),
            ("Location", self.location),
            ("Latitude", self.latitude),
            ("Longitude", self.longitude),
            ("Check-in radius", self.radius),
            ("Meeting QR valid", _row(self.qr_policy, self.qr_max_scans, self.qr_minutes)),
            ("New QR code every", self.qr_rotation),
            ("Head-turn check", self.liveness),
        ):
            when_where.addRow(label, field)
        who = QVBoxLayout()
        for label, field, stretch in (
            ("Expected ministries", self.ministries, 0),
            ("Expected people (besides the ministries)", self.people, 1),
            ("Or", self.everyone, 0),
            ("Kiosks", self.kiosks, 0),
        ):
            caption = QLabel(label)
            caption.setBuddy(field)
            who.addWidget(caption)
            who.addWidget(field, stretch)
        columns = QHBoxLayout()
        columns.addLayout(when_where, 3)
        columns.addSpacing(16)
        columns.addLayout(who, 2)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(columns, 1)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def showEvent(self, event: QShowEvent) -> None:
        if not event.spontaneous():
            fit_to_screen(self)
        super().showEvent(event)

    def _policy_changed(self) -> None:
        policy = self.qr_policy.currentData()
        self.qr_max_scans.setVisible(policy == "max_scans")
        self.qr_minutes.setVisible(policy == "minutes")

    def _recheck(self) -> None:
        """Once a refusal is shown, it follows the fields (and goes when they are right)."""
        if self.error.text():
            self.error.setText(self.problem() or "")

    def problem(self) -> str | None:
        """What must change before saving, as a sentence; None when the form can be sent."""
        if not self.title.text().strip():
            return "Give the meeting a title."
        starts, ends, late = _when(self.starts), _when(self.ends), _when(self.late)
        if ends <= starts:
            return "The meeting must end after it starts: change Ends."
        if self.marks_late.isChecked() and not starts <= late <= ends:
            return "Late after must be between the start and the end of the meeting."
        try:
            latitude = _coordinate(self.latitude.text(), "Latitude", 90, "5.6037")
            longitude = _coordinate(self.longitude.text(), "Longitude", 180, "-0.1870")
        except ValueError as exc:
            return str(exc)
        if (latitude is None) != (longitude is None):
            return "Give both latitude and longitude of the meeting place, or leave both empty."
        return self._who_problem()

    def _who_problem(self) -> str | None:
        """Listing nobody must be a choice: its kiosks would otherwise hold nobody's face."""
        listed = self.ministries.text().strip() or self.people.chosen_ids()
        if listed or self.everyone.isChecked():
            return None
        return (
            "Say who is expected: list ministries or people, or tick Everyone "
            "(its kiosks then hold every member's face)."
        )

    def accept(self) -> None:
        problem = self.problem()
        self.error.setText(problem or "")
        if problem is None:
            super().accept()

    def fields(self) -> dict[str, Any]:
        """The meeting as the server takes it (call when `problem()` is None)."""
        policy = self.qr_policy.currentData()
        return {
            "title": self.title.text().strip(),
            "description": self.description.text().strip(),
            "starts_at": _when(self.starts).isoformat(),
            "ends_at": _when(self.ends).isoformat(),
            "late_after": _when(self.late).isoformat() if self.marks_late.isChecked() else None,
            "location_name": self.location.text().strip(),
            "latitude": _number(self.latitude.text()),
            "longitude": _number(self.longitude.text()),
            "radius_m": self.radius.value(),
            "expected_ministries": [
                m.strip() for m in self.ministries.text().split(",") if m.strip()
            ],
            "expected_member_ids": self.people.chosen_ids(),
            "kiosk_ids": self.kiosks.chosen_ids(),
            "open_to_everyone": self.everyone.isChecked(),
            "qr_policy": policy,
            "qr_max_scans": self.qr_max_scans.value() if policy == "max_scans" else None,
            "qr_valid_minutes": self.qr_minutes.value() if policy == "minutes" else None,
            "qr_rotation_seconds": self.qr_rotation.value(),
            "liveness": self.liveness.currentData(),
        }


def _text(value: float | None) -> str:
    return "" if value is None else str(value)


def _row(*widgets: QWidget) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return row


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
        self.caption.setWordWrap(True)  # a refusal (a meeting not started yet) is a sentence
        # Whether phones get the live camera (https) or record a video (plain http).
        self.phones = QLabel("")
        self.phones.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.phones.setWordWrap(True)
        # Full-screen has no title bar: a visible way out, besides Esc.
        self.close_button = QPushButton("Close (Esc)")
        self.close_button.setStyleSheet("background: #eeeeee; padding: 8px 24px;")
        self.close_button.clicked.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.caption)
        layout.addWidget(self.code, 1)
        layout.addWidget(self.phones)
        layout.addLayout(bottom)
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
        self.phones.setText(qr.get("phone_camera_note", ""))
        self._timer.start(max(5, qr["refresh_after_seconds"]) * 1000)

    def done(self, result: int) -> None:
        self._timer.stop()
        super().done(result)
