"""Reports: attendance over time (a chart), the followed meeting's figures, and CSV/XLSX
exports made by the backend and saved where the admin chooses."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.admin_client import AdminClient
from kiosk.admin_types import Json
from ui.admin.chart import BarChart
from ui.admin.tasks import Tasks


class ReportsView(QWidget):
    def __init__(self, client: AdminClient, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client, self._tasks = client, tasks
        self.meeting_id = ""
        self.trend_chart = BarChart("Attendance rate per month (%)")
        self.meeting_chart = BarChart("The followed meeting")
        self.which = QComboBox()
        self.which.addItems(["attendance", "absent"])
        self.fmt = QComboBox()
        self.fmt.addItems(["csv", "xlsx"])
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self.choose_and_export)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("Export the followed meeting's"))
        row.addWidget(self.which)
        row.addWidget(QLabel("list as"))
        row.addWidget(self.fmt)
        row.addWidget(self.export_button)
        row.addStretch(1)
        charts = QHBoxLayout()
        charts.addWidget(self.trend_chart, 1)
        charts.addWidget(self.meeting_chart, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(charts, 1)
        layout.addLayout(row)
        layout.addWidget(self.status)

    def refresh(self) -> None:
        self._tasks.run("Loading trends", self._client.trends, self._trends)
        meeting = self.meeting_id
        if meeting:
            self._tasks.run(
                "Loading the meeting report",
                lambda: self._client.meeting_report(meeting),
                self._meeting,
            )

    def _trends(self, trends: Json) -> None:
        bars = [
            (str(p["period_start"])[:7], round((p["attendance_rate"] or 0.0) * 100, 1))
            for p in trends.get("points", [])
        ]
        self.trend_chart.set_bars(bars)

    def _meeting(self, report: Json) -> None:
        self.meeting_chart.title = str(report["title"])
        keys = (
            ("present", "Present"),
            ("late", "Late"),
            ("pending_review", "Pending"),
            ("absent", "Absent"),
        )
        self.meeting_chart.set_bars([(label, float(report[key])) for key, label in keys])

    def choose_and_export(self) -> None:
        if not self.meeting_id:
            self.status.setText("Follow a meeting first (Meetings screen).")
            return
        fmt = self.fmt.currentText()
        path, _ = QFileDialog.getSaveFileName(
            self, "Save the export", f"attendance.{fmt}", f"{fmt.upper()} (*.{fmt})"
        )
        if path:
            self.export_to(Path(path))

    def export_to(self, path: Path) -> None:
        """Ask the backend for the export and write it to `path` (off the UI thread)."""
        meeting, which, fmt = self.meeting_id, self.which.currentText(), self.fmt.currentText()

        def run() -> Path:
            _name, content = self._client.export(meeting, which=which, fmt=fmt)  # type: ignore[arg-type]
            path.write_bytes(content)
            return path

        self._tasks.run(
            "Exporting", run, lambda p: self.status.setText(f"Saved {p}."), self.status.setText
        )
