"""The Reports screen against a real backend: attendance over time, a meeting's people per
ministry and absent list, one person's history, and exports read back."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from pytestqt.qtbot import QtBot

from tests.kiosk.backend import LiveBackend
from tests.server.attendance_utils import store_checkin
from tests.ui.screens import text_problems
from tests.ui.test_admin_screens import WAIT_MS, artefact_dir, idle, sign_in, window
from ui.admin.chart import AXIS_W, BAR, BarChart, Series, nice_top
from ui.admin.report_parts import cells
from ui.admin.reports import ReportsView, period_label
from ui.admin.window import AdminWindow

pytestmark = [pytest.mark.network, pytest.mark.model]
__all__ = ["window"]  # the fixture, from the other admin screens' tests


@dataclass
class Season:
    """Choir (Ada, Ben) and Ushers (Cid, Dee) expected at two meetings; Eve (Elders) not.

    Sunday service (ended): Ada, Cid and Dee came on time; Ben was absent.
    Choir night (running, late time passed): Ada and Cid came late, Ben awaits review,
    Dee is absent."""

    people: dict[str, str]
    sunday: str
    tonight: str


def season(backend: LiveBackend, window: AdminWindow) -> Season:
    client = window.client
    people = {
        name.split()[0]: client.create_member(name, ministry, email=email)["id"]
        for name, ministry, email in (
            ("Ada Mensah", "Choir", "ada@example.org"),
            ("Ben Owusu", "Choir", None),
            ("Cid Darko", "Ushers", None),
            ("Dee Boateng", "Ushers", "dee@example.org"),
            ("Eve Asante", "Elders", None),
        )
    }
    expected = {"expected_ministries": ["Choir", "Ushers"]}
    sunday = backend.meeting(
        title="Sunday service", started_minutes_ago=100, late_after_minutes=110, **expected
    )
    for name in ("Ada", "Cid", "Dee"):
        store_checkin(backend.admin, sunday, people[name], status="approved", similarity=0.7)
    ended = backend.admin.post(f"/api/meetings/{sunday}/end", headers=backend.headers)
    assert ended.status_code == 200, ended.text
    tonight = backend.meeting(
        title="Choir night", started_minutes_ago=10, late_after_minutes=5, **expected
    )
    store_checkin(backend.admin, tonight, people["Ada"], status="approved", similarity=0.7)
    store_checkin(backend.admin, tonight, people["Ben"])
    client.manual_checkin(tonight, people["Cid"], "Signed the paper list")
    return Season(people, sunday, tonight)


def monthly_rates(meetings: Iterable[tuple[str, tuple[int, int]]]) -> dict[str, float]:
    """Per month of the meetings' starts: the attendance rate (%) of (present, expected)."""
    months: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for starts_at, (present, expected) in meetings:
        month = datetime.fromisoformat(starts_at).astimezone(UTC).date().replace(day=1)
        months[period_label(month.isoformat(), "month")][0] += present
        months[period_label(month.isoformat(), "month")][1] += expected
    return {m: round(p / e * 100, 1) for m, (p, e) in months.items()}


@pytest.fixture
def reports(qtbot: QtBot, window: AdminWindow, backend: LiveBackend) -> ReportsView:
    sign_in(qtbot, window, backend)
    return window.reports


def show_meeting(qtbot: QtBot, window: AdminWindow, meeting_id: str) -> None:
    tab = window.reports.meeting
    tab.choose(meeting_id)
    qtbot.waitUntil(
        lambda: tab.report is not None and tab.report["meeting_id"] == meeting_id,
        timeout=WAIT_MS,
    )


def test_a_meeting_shows_its_people_per_ministry_and_exactly_its_absent_people(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend, reports: ReportsView
) -> None:
    made = season(backend, window)
    window.show_screen("Reports")
    reports.tabs.setCurrentWidget(reports.meeting)
    tab = reports.meeting
    qtbot.waitUntil(lambda: tab.meeting.count() == 2, timeout=WAIT_MS)
    show_meeting(qtbot, window, made.tonight)

    chart = tab.ministry_chart
    assert chart.categories == ["Choir", "Ushers"]  # Eve's Elders were not expected
    assert chart.values("On time") == {"Choir": 0, "Ushers": 0}
    assert chart.values("Late") == {"Choir": 1, "Ushers": 1}
    assert chart.values("Awaiting review") == {"Choir": 1, "Ushers": 0}
    assert chart.values("Absent") == {"Choir": 0, "Ushers": 1}
    assert tab.figures.text().startswith("Expected 4  ·  Present 2 (2 late)")
    assert tab.absent_title.text() == "Absent (1)"
    assert cells(tab.absent) == [["Dee Boateng", "Ushers", "", "dee@example.org"]]

    show_meeting(qtbot, window, made.sunday)
    assert chart.values("On time") == {"Choir": 1, "Ushers": 2}
    assert chart.values("Absent") == {"Choir": 1, "Ushers": 0}
    assert cells(tab.absent) == [["Ben Owusu", "Choir", "", ""]]


def test_a_person_history_lists_each_meeting_with_its_status_and_method(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend, reports: ReportsView
) -> None:
    made = season(backend, window)
    window.show_screen("Reports")
    reports.tabs.setCurrentWidget(reports.person)
    person = reports.person
    person.search.setText("Ada")
    qtbot.waitUntil(
        lambda: (
            [person.people.item(i).text() for i in range(person.people.count())]
            == ["Ada Mensah — Choir"]
        ),
        timeout=WAIT_MS,
    )
    person.people.setCurrentRow(0)
    qtbot.waitUntil(lambda: person.name.text() == "Ada Mensah", timeout=WAIT_MS)
    rows = cells(person.history)
    assert [row[1:3] for row in rows] == [["Choir night", "Late"], ["Sunday service", "On time"]]
    assert [row[4] for row in rows] == ["Face", "Face"] and all(row[3] for row in rows)
    assert "2 meetings expected them: present at 2 (1 late), absent from 0" in person.figures.text()

    for name, expected in (
        ("Ben", [["Choir night", "Awaiting review", "Face"], ["Sunday service", "Absent", ""]]),
        ("Cid", [["Choir night", "Late", "Manual"], ["Sunday service", "On time", "Face"]]),
        ("Dee", [["Choir night", "Absent", ""], ["Sunday service", "On time", "Face"]]),
        ("Eve", []),  # the Elders were expected at neither meeting
    ):
        person.show_history(made.people[name])
        qtbot.waitUntil(lambda n=name: person.name.text().startswith(n), timeout=WAIT_MS)
        assert [[r[1], r[2], r[4]] for r in cells(person.history)] == expected, name

    # People's History button opens the same tab on the chosen person.
    window.show_screen("People")
    people = window.people
    people.search.setText("Ben Owusu")
    qtbot.waitUntil(lambda: people.model.rowCount() == 1, timeout=WAIT_MS)
    people.table.selectRow(0)
    people.buttons["History"].click()
    assert window.stack.currentWidget() is reports and reports.tabs.currentWidget() is person
    qtbot.waitUntil(lambda: person.name.text() == "Ben Owusu", timeout=WAIT_MS)
    assert [r[2] for r in cells(person.history)] == ["Awaiting review", "Absent"]

    # A refusal is shown as the server's sentence.
    window.client.delete_member(made.people["Eve"])
    person.show_history(made.people["Eve"])
    qtbot.waitUntil(lambda: person.figures.text() == "No such member.", timeout=WAIT_MS)


def test_attendance_over_time_and_exports_read_back(
    qtbot: QtBot, window: AdminWindow, backend: LiveBackend, reports: ReportsView, tmp_path: Path
) -> None:
    made = season(backend, window)
    window.show_screen("Reports")
    over_time = reports.over_time
    qtbot.waitUntil(lambda: bool(over_time.trend_chart.categories), timeout=WAIT_MS)
    idle(qtbot, window)
    assert "2 meetings took attendance  ·  5 active people  ·  2 late" in over_time.figures.text()
    assert [over_time.ministry.itemText(i) for i in range(over_time.ministry.count())] == [
        "All ministries",
        "Choir",
        "Elders",
        "Ushers",
    ]
    # Approved check-ins of expected people (Ben's pending one is not counted yet).
    starts = [window.client.meeting(m)["starts_at"] for m in (made.sunday, made.tonight)]
    for ministry, counts in (
        ("", [(3, 4), (2, 4)]),
        ("Choir", [(1, 2), (1, 2)]),
        ("Ushers", [(2, 2), (1, 2)]),
    ):
        over_time.choose_ministry(ministry)
        qtbot.waitUntil(
            lambda m=ministry: over_time.trend_chart.title.endswith(
                f"{m} (%)" if m else "month (%)"
            ),
            timeout=WAIT_MS,
        )
        assert over_time.trend_chart.values() == monthly_rates(zip(starts, counts, strict=True))

    # Exports are made by the backend and saved where the admin chose; read them back.
    reports.tabs.setCurrentWidget(reports.meeting)
    show_meeting(qtbot, window, made.tonight)
    reports.export_to(tmp_path / "register.csv")
    idle(qtbot, window)
    text = (tmp_path / "register.csv").read_text(encoding="utf-8-sig")
    assert "Ada Mensah,Choir,ada@example.org,late," in text
    assert "Dee Boateng,Ushers,dee@example.org,absent," in text
    reports.fmt.setCurrentText("xlsx")
    reports.which.setCurrentText("absent")
    reports.export_to(tmp_path / "absent.xlsx")
    idle(qtbot, window)
    sheet = openpyxl.load_workbook(tmp_path / "absent.xlsx").active
    assert sheet is not None
    names = {str(c.value) for row in sheet.iter_rows() for c in row}
    assert "Dee Boateng" in names and not names & {"Ada Mensah", "Ben Owusu", "Cid Darko"}
    reports.export_to(tmp_path / "missing" / "absent.xlsx")
    qtbot.waitUntil(lambda: "could not be saved" in reports.status.text(), timeout=WAIT_MS)

    # Each tab at both sizes, with a person chosen: nothing cut off or overlapping.
    reports.person.show_history(made.people["Cid"])
    out = artefact_dir(tmp_path)
    for width, height in ((1280, 800), (1920, 1080)):
        window.resize(width, height)
        for index in range(reports.tabs.count()):
            reports.tabs.setCurrentIndex(index)
            idle(qtbot, window)
            qtbot.wait(50)
            assert text_problems(reports) == [], (width, index)
            name = reports.tabs.tabText(index).lower().replace(" ", "_")
            assert window.grab().save(str(out / f"reports_{name}_{width}x{height}.png"))


def test_a_crowded_timeline_labels_every_few_bars_and_the_tooltip_names_each(
    qtbot: QtBot,
) -> None:
    chart = BarChart("Attendance rate per week (%)", maximum=100, suffix="%", timeline=True)
    qtbot.addWidget(chart)
    weeks = [period_label(f"2026-{m:02d}-{d:02d}", "week") for m in range(1, 13) for d in (5, 19)]
    chart.set_bars([(week, 50.0 + i) for i, week in enumerate(weeks)])
    chart.resize(700, 300)
    assert chart.label_step() > 1  # 24 whole dates do not fit under 24 bars in 700 px
    assert not chart.grab().isNull()
    chart.resize(4000, 300)
    assert chart.label_step() == 1
    left, slot = AXIS_W, (4000 - AXIS_W - 10) / len(weeks)
    assert chart.tooltip_at(left + slot * 3.5) == "19 Feb 2026\nValue: 53%"
    assert chart.tooltip_at(1.0) == ""
    with pytest.raises(ValueError, match="one value per category"):
        chart.set_data(["a", "b"], [Series("x", BAR, (1.0,))])


def test_chart_axes_step_in_round_numbers_and_counts_in_whole_ones() -> None:
    assert nice_top(100) == (100, 20) and nice_top(66.7) == (80, 20)
    assert nice_top(2) == (2, 0.5) and nice_top(2, whole=True) == (2, 1)
    assert nice_top(0, whole=True) == (1, 1)
