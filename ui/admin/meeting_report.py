"""One meeting's report: its figures, attendance per ministry (a stacked chart), the absent
list (expected people who did not check in) with their phone and email to follow them up
(copied for a text message), and CSV/XLSX exports made by the backend and saved where the
admin chooses."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.admin.api_types import Meeting, MeetingReport, ReportPerson
from kiosk.admin.client import AdminClient
from kiosk.errors import KioskError
from ui.admin.chart import BarChart, Series
from ui.admin.report_parts import PRESENCE, fill_table, make_table, percent, when
from ui.admin.tasks import Tasks
from ui.admin.words import count


def by_ministry(people: list[ReportPerson]) -> tuple[list[str], list[Series]]:
    """Ministries by name, and per presence the number of their people with it."""
    counts = Counter((p["ministry"], p["presence"]) for p in people)
    ministries = sorted({p["ministry"] for p in people}, key=str.casefold)
    return ministries, [
        Series(word, color, tuple(float(counts[m, key]) for m in ministries))
        for key, (word, color) in PRESENCE.items()
    ]


def summary(report: MeetingReport) -> str:
    return (
        f"Expected {report['expected']}  ·  Present {report['present']} "
        f"({report['late']} late)  ·  Awaiting review {report['pending_review']}  ·  "
        f"Absent {report['absent']}  ·  {percent(report['attendance_rate'])}"
    )


class MeetingReportTab(QWidget):
    def __init__(self, client: AdminClient, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client, self._tasks = client, tasks
        self.meeting_id = ""
        self.report: MeetingReport | None = None
        self.meeting = QComboBox()
        self.meeting.setMinimumContentsLength(30)
        self.meeting.currentIndexChanged.connect(self._on_chosen)
        self.figures = QLabel("Choose a meeting.")
        self.figures.setObjectName("count")
        self.figures.setWordWrap(True)
        self.ministry_chart = BarChart("People per ministry", whole=True)
        self.absent_title = QLabel("Absent")
        self.absent_title.setObjectName("title")
        self.absent = make_table(("Name", "Ministry", "Phone", "Email"), stretch=0)
        self.copy_phones = QPushButton("Copy phone numbers")
        self.copy_phones.setToolTip("For the To: field of a text message to everyone absent.")
        self.copy_phones.clicked.connect(self.copy_numbers)
        self.copy_list = QPushButton("Copy the list")
        self.copy_list.setToolTip("Names, phones and emails, one person a line.")
        self.copy_list.clicked.connect(self.copy_people)
        self.email_button = QPushButton("Email them…")
        self.email_button.setToolTip(
            "One message to each absent person with an email; no one is emailed twice "
            "about the same meeting."
        )
        self.email_button.clicked.connect(self.ask_email)
        self.which = QComboBox()
        self.which.addItems(["attendance", "absent"])
        self.fmt = QComboBox()
        self.fmt.addItems(["csv", "xlsx"])
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self.choose_and_export)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self._build()

    def _build(self) -> None:
        top = QHBoxLayout()
        top.addWidget(QLabel("Meeting"))
        top.addWidget(self.meeting, 1)
        absent = QVBoxLayout()
        absent.addWidget(self.absent_title)
        absent.addWidget(self.absent, 1)
        copies = QHBoxLayout()
        copies.addWidget(self.copy_phones)
        copies.addWidget(self.copy_list)
        copies.addWidget(self.email_button)
        copies.addStretch(1)
        absent.addLayout(copies)
        middle = QHBoxLayout()
        middle.addWidget(self.ministry_chart, 1)
        middle.addLayout(absent, 1)  # names, phones and emails need the room
        export = QHBoxLayout()
        for part in (QLabel("Export the"), self.which, QLabel("list as"), self.fmt):
            export.addWidget(part)
        export.addWidget(self.export_button)
        export.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.figures)
        layout.addLayout(middle, 1)
        layout.addLayout(export)
        layout.addWidget(self.status)

    def refresh(self) -> None:
        self._tasks.run("Loading meetings", self._client.meetings, self._listed)

    def _listed(self, meetings: list[Meeting]) -> None:
        self.meeting.blockSignals(True)  # one report is loaded, for the meeting kept chosen
        self.meeting.clear()
        for m in meetings:
            if m["status"] != "cancelled":
                label = f"{when(m['starts_at'], with_time=False)} — {m['title']} ({m['status']})"
                self.meeting.addItem(label, m["id"])
        index = max(0, self.meeting.findData(self.meeting_id))
        self.meeting.setCurrentIndex(index)
        self.meeting.blockSignals(False)
        if self.meeting.count() == 0:
            self.figures.setText("No meetings yet: create one on the Meetings screen.")
            return
        self._on_chosen(index)

    def choose(self, meeting_id: str) -> None:
        """Show this meeting's report (as if picked in the list)."""
        self.meeting.setCurrentIndex(self.meeting.findData(meeting_id))

    def _on_chosen(self, index: int) -> None:
        if index < 0:
            return
        self.meeting_id = str(self.meeting.itemData(index))
        meeting = self.meeting_id
        self._tasks.run(
            "Loading the meeting report",
            lambda: self._client.meeting_report(meeting),
            self._show,
            self.figures.setText,
        )

    def _show(self, report: MeetingReport) -> None:
        if report["meeting_id"] != self.meeting_id:
            return  # an answer for a meeting chosen before this one
        self.report = report
        self.figures.setText(summary(report))
        self.ministry_chart.title = f"People per ministry — {report['title']}"
        self.ministry_chart.set_data(*by_ministry(report["people"]))
        missing = [p for p in report["people"] if p["presence"] == "absent"]
        self.absent_title.setText(f"Absent ({len(missing)})")
        fill_table(
            self.absent,
            [(p["full_name"], p["ministry"], p["phone"] or "", p["email"] or "") for p in missing],
        )

    def absentees(self) -> list[ReportPerson]:
        people = self.report["people"] if self.report else []
        return [p for p in people if p["presence"] == "absent"]

    def copy_numbers(self) -> None:
        """The absent people's phone numbers, comma-separated, to the clipboard; and who
        has none (they need an email or a call instead)."""
        absent = self.absentees()
        numbers = [p["phone"] for p in absent if p["phone"]]
        without = [p["full_name"] for p in absent if not p["phone"]]
        if not numbers:
            self.status.setText("No one absent has a phone number to copy.")
            return
        QGuiApplication.clipboard().setText(", ".join(numbers))
        said = f"Copied {count(len(numbers), 'phone number')} for a text message."
        if without:
            said += f" No phone for: {', '.join(without)}."
        self.status.setText(said)

    def copy_people(self) -> None:
        """The absent list as text, one person a line (name, ministry, phone, email)."""
        absent = self.absentees()
        if not absent:
            self.status.setText("No one is absent: there is nothing to copy.")
            return
        lines = [
            " · ".join(filter(None, (p["full_name"], p["ministry"], p["phone"], p["email"])))
            for p in absent
        ]
        title = self.report["title"] if self.report else ""
        QGuiApplication.clipboard().setText(f"Absent from {title}:\n" + "\n".join(lines))
        self.status.setText(f"Copied the absent list ({count(len(absent), 'person', 'people')}).")

    def ask_email(self) -> None:
        if not self.absentees():
            self.status.setText("No one is absent: there is no one to email.")
            return
        title = self.report["title"] if self.report else ""
        text, ok = QInputDialog.getMultiLineText(
            self,
            "Email the absent",
            f"Message to everyone absent from {title} who has an email (each person gets it once):",
            f"We missed you at {title}. Is all well? Let us know if we can help.",
        )
        if ok:
            self.email_absentees(text)

    def email_absentees(self, text: str) -> None:
        """Email `text` to the absent people of the shown meeting (the server skips
        anyone emailed about it before) and say who got it."""
        if not text.strip():
            self.status.setText("Write the message first; nothing was sent.")
            return
        meeting = self.meeting_id
        self._tasks.run(
            "Emailing the absent",
            lambda: self._client.message_absentees(meeting, text),
            lambda answer: self.status.setText(str(answer["detail"])),
            self.status.setText,
        )

    def choose_and_export(self) -> None:
        if not self.meeting_id:
            self.status.setText("Choose a meeting first.")
            return
        fmt = self.fmt.currentText()
        path, _ = QFileDialog.getSaveFileName(
            self, "Save the export", f"{self.which.currentText()}.{fmt}", f"{fmt.upper()} (*.{fmt})"
        )
        if path:
            self.export_to(Path(path))

    def export_to(self, path: Path) -> None:
        """Ask the backend for the export and write it to `path` (off the UI thread)."""
        meeting, which, fmt = self.meeting_id, self.which.currentText(), self.fmt.currentText()

        def run() -> Path:
            _name, content = self._client.export(meeting, which=which, fmt=fmt)  # type: ignore[arg-type]
            try:
                path.write_bytes(content)
            except OSError as exc:
                raise KioskError(
                    f"The export could not be saved as {path} ({exc.strerror}); "
                    "choose another folder."
                ) from exc
            return path

        self._tasks.run(
            "Exporting", run, lambda p: self.status.setText(f"Saved {p}."), self.status.setText
        )
