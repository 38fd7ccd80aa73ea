"""Reports, in three tabs: attendance over time (a chart of the rate per week or month),
one meeting (per ministry, the absent list, exports), and one person's history.

Every figure is the backend's (`/api/reports/...`); the calls run through `Tasks`, so a
slow server never freezes the window, and its refusals are shown as its own sentence.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTabWidget, QVBoxLayout, QWidget

from kiosk.admin.api_types import Json
from kiosk.admin.client import AdminClient
from ui.admin.chart import BarChart
from ui.admin.meeting_report import MeetingReportTab
from ui.admin.person_history import PersonHistoryTab
from ui.admin.tasks import Tasks

PERIODS = {"month": "Month", "week": "Week"}
ALL_MINISTRIES = "All ministries"


def period_label(start: str, period: str) -> str:
    day = date.fromisoformat(start)
    return day.strftime("%b %Y") if period == "month" else day.strftime("%d %b %Y")


class OverTimeTab(QWidget):
    def __init__(self, client: AdminClient, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client, self._tasks = client, tasks
        self.period = QComboBox()
        for key, word in PERIODS.items():
            self.period.addItem(word, key)
        self.period.currentIndexChanged.connect(self.load_trends)
        self.ministry = QComboBox()
        self.ministry.addItem(ALL_MINISTRIES, "")
        self.ministry.setMinimumContentsLength(16)
        self.ministry.currentIndexChanged.connect(self.load_trends)
        self.figures = QLabel("")
        self.figures.setObjectName("count")
        self.figures.setWordWrap(True)
        self.trend_chart = BarChart("Attendance rate (%)", maximum=100, suffix="%", timeline=True)
        self.trend_chart.empty_text = "No meeting has taken attendance yet."
        row = QHBoxLayout()
        row.addWidget(QLabel("Attendance per"))
        row.addWidget(self.period)
        row.addWidget(QLabel("for"))
        row.addWidget(self.ministry)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.figures)
        layout.addWidget(self.trend_chart, 1)

    def refresh(self) -> None:
        self._tasks.run("Loading the overview", self._client.overview, self._overview)
        self.load_trends()

    def load_trends(self) -> None:
        period: Literal["week", "month"] = (
            "week" if self.period.currentData() == "week" else "month"
        )
        ministry = str(self.ministry.currentData() or "")
        self._tasks.run(
            "Loading trends",
            lambda: self._client.trends(period, ministry),
            self._trends,
            self.figures.setText,
        )

    def choose_ministry(self, ministry: str) -> None:
        """Chart only this ministry's attendance ("" for everyone's)."""
        self.ministry.setCurrentIndex(max(0, self.ministry.findData(ministry)))

    def _overview(self, overview: Json) -> None:
        chosen = str(self.ministry.currentData() or "")
        self.ministry.blockSignals(True)  # the chart keeps the chosen ministry
        self.ministry.clear()
        self.ministry.addItem(ALL_MINISTRIES, "")
        for name in overview.get("ministries", []):
            self.ministry.addItem(name, name)
        self.ministry.setCurrentIndex(max(0, self.ministry.findData(chosen)))
        self.ministry.blockSignals(False)
        if self.ministry.findData(chosen) < 0:
            self.load_trends()  # the chosen ministry has no active people any more
        meetings = overview["meetings"]
        rate = overview["attendance_rate"]
        self.figures.setText(
            f"{meetings['active'] + meetings['ended']} meetings took attendance  ·  "
            f"{overview['active_members']} active people  ·  {overview['late']} late  ·  "
            + ("no one expected yet" if rate is None else f"{rate * 100:.0f}% attended overall")
        )

    def _trends(self, trends: Json) -> None:
        period, ministry = str(trends["period"]), trends.get("ministry") or ""
        if ministry != (self.ministry.currentData() or ""):
            return  # an answer for a ministry chosen before this one
        of = f" — {ministry}" if ministry else ""
        self.trend_chart.title = f"Attendance rate per {PERIODS[period].lower()}{of} (%)"
        self.trend_chart.set_bars(
            [
                (
                    period_label(str(p["period_start"]), period),
                    round((p["attendance_rate"] or 0.0) * 100, 1),
                )
                for p in trends.get("points", [])
            ]
        )


class ReportsView(QWidget):
    def __init__(self, client: AdminClient, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.over_time = OverTimeTab(client, tasks)
        self.meeting = MeetingReportTab(client, tasks)
        self.person = PersonHistoryTab(client, tasks)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.over_time, "Over time")
        self.tabs.addTab(self.meeting, "Meeting")
        self.tabs.addTab(self.person, "Person")
        self.tabs.currentChanged.connect(self.refresh)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        # The export controls, as the other screens and tests know them.
        self.which, self.fmt, self.status = (
            self.meeting.which,
            self.meeting.fmt,
            self.meeting.status,
        )

    @property
    def meeting_id(self) -> str:
        return self.meeting.meeting_id

    @meeting_id.setter
    def meeting_id(self, value: str) -> None:
        """The followed meeting (set by the window) is the one the Meeting tab shows."""
        self.meeting.meeting_id = value

    def show_person(self, member_id: str) -> None:
        """The Person tab with this member's history (loaded when the screen shows)."""
        self.person.member_id = member_id
        self.tabs.setCurrentWidget(self.person)

    def refresh(self) -> None:
        tab = self.tabs.currentWidget()
        if isinstance(tab, OverTimeTab | MeetingReportTab | PersonHistoryTab):
            tab.refresh()

    def export_to(self, path: Path) -> None:
        self.meeting.export_to(path)
