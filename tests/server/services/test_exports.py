"""Exports in the church's time zone (TIMEZONE): local times named in the header, real
date-times in XLSX, the meeting's title in the file, and names that never collide."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from server.backend.core.config import Settings, load_settings
from server.backend.errors import ConfigError
from tests.server.attendance_utils import make_meeting, make_member, store_checkin
from tests.server.conftest import ClientFactory
from tests.server.utils import admin_headers

ZONE = "Asia/Kolkata"  # UTC+05:30: a local time is never mistaken for UTC


@pytest.fixture
def kolkata(make_client: ClientFactory, pg_settings: Settings) -> TestClient:
    return make_client(pg_settings.model_copy(update={"timezone": ZONE}))


def _export(
    client: TestClient, headers: dict[str, str], meeting: str, fmt: str
) -> tuple[bytes, str]:
    url = f"/api/reports/meetings/{meeting}/export"
    response = client.get(url, params={"format": fmt}, headers=headers)
    assert response.status_code == 200, response.text
    found = re.search(r'filename="([^"]+)"', response.headers["content-disposition"])
    assert found
    return response.content, found.group(1)


def test_exports_use_the_church_time_zone_and_real_date_times(kolkata: TestClient) -> None:
    admin = admin_headers(kolkata)
    ama = make_member(kolkata, admin, "Ama Mensah")
    meeting = make_meeting(kolkata, admin, title="Leaders: Advent / week 1")
    store_checkin(kolkata, meeting["id"], ama["id"], status="approved", similarity=0.7)
    checked = datetime.now(UTC)
    expected_local = checked.astimezone(ZoneInfo(ZONE)).replace(tzinfo=None)

    content, name = _export(kolkata, admin, meeting["id"], "csv")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0][4] == f"Checked in at ({ZONE})" and rows[0][6] == "Meeting"
    local = datetime.strptime(rows[1][4], "%Y-%m-%d %H:%M:%S")
    assert abs(local - expected_local) < timedelta(minutes=1)
    assert rows[1][6] == "Leaders: Advent / week 1"

    content, xlsx_name = _export(kolkata, admin, meeting["id"], "xlsx")
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    title, starts, _which = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True))[:3]
    assert title == "Leaders: Advent / week 1"
    starts_local = datetime.fromisoformat(meeting["starts_at"]).astimezone(ZoneInfo(ZONE))
    assert starts == starts_local.replace(tzinfo=None, microsecond=starts.microsecond)
    cell = sheet.cell(row=3, column=5)
    assert isinstance(cell.value, datetime) and cell.number_format == "yyyy-mm-dd hh:mm:ss"
    assert abs(cell.value - expected_local) < timedelta(minutes=1)

    day = f"{starts_local:%Y-%m-%d-%H%M}"
    assert name.startswith(f"leaders-advent-week-1-{day}-attendance-") and name.endswith(".csv")
    assert xlsx_name == name.removesuffix(".csv") + ".xlsx"


def test_two_meetings_on_the_same_day_get_different_file_names(kolkata: TestClient) -> None:
    admin = admin_headers(kolkata)
    first = make_meeting(kolkata, admin)
    second = make_meeting(kolkata, admin, starts_at=first["starts_at"], ends_at=first["ends_at"])
    assert first["title"] == second["title"]
    names = {_export(kolkata, admin, m["id"], "csv")[1] for m in (first, second)}
    assert len(names) == 2


def test_an_unknown_time_zone_stops_start_up() -> None:
    with pytest.raises(ConfigError, match="TIMEZONE must be a time zone name"):
        load_settings({"TIMEZONE": "Mars/Olympus"})
