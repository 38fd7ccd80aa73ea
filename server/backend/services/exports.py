"""CSV and XLSX exports of a meeting's register (everyone expected, with presence) and
of its absent list.

Times are the church's local time (TIMEZONE), named in the header; XLSX cells hold
real date-times a spreadsheet can sort and compute with. The meeting's title is in the
file (a column, and the first row of the sheet) and in its name, which also carries
the local start and a short meeting id, so two meetings' downloads never collide.

Cells that a spreadsheet would run as a formula (starting with = + - @ or a control
character) are prefixed with an apostrophe: names come from people, and an export is
opened by someone else (CSV/formula injection).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from openpyxl import Workbook

from server.backend.schemas.reports import MeetingReport, PersonLine

ExportList = Literal["attendance", "absent"]
ExportFormat = Literal["csv", "xlsx"]
Cell = str | datetime
# Phone last: added for following up absentees, after spreadsheets were built on the rest.
COLUMNS = ("Name", "Ministry", "Email", "Presence", "Checked in at", "Method", "Meeting", "Phone")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"


def safe_cell(value: str) -> str:
    """Text a spreadsheet shows as text, never evaluates."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def header(zone: ZoneInfo) -> tuple[str, ...]:
    """The column names; the check-in time names its zone (e.g. `Checked in at (Africa/Accra)`)."""
    return tuple(f"{c} ({zone.key})" if c == "Checked in at" else c for c in COLUMNS)


def local(value: datetime, zone: ZoneInfo) -> datetime:
    """Wall-clock time in the zone, without tzinfo (spreadsheets have no zones)."""
    return value.astimezone(zone).replace(tzinfo=None)


def rows(report: MeetingReport, which: ExportList, zone: ZoneInfo) -> list[tuple[Cell, ...]]:
    """The export's rows under `header`, in the report's order (by name)."""
    people: Sequence[PersonLine] = report.people
    if which == "absent":
        people = [p for p in people if p.presence == "absent"]
    title = safe_cell(report.title)
    return [
        (
            safe_cell(p.full_name),
            safe_cell(p.ministry),
            safe_cell(p.email or ""),
            p.presence,
            local(p.checked_in_at, zone) if p.checked_in_at else "",
            p.method or "",
            title,
            safe_cell(p.phone or ""),
        )
        for p in people
    ]


def _text(cell: Cell) -> str:
    return cell.strftime("%Y-%m-%d %H:%M:%S") if isinstance(cell, datetime) else cell


def to_csv(table: Sequence[tuple[Cell, ...]], zone: ZoneInfo) -> bytes:
    """UTF-8 with a byte-order mark, so spreadsheet programs read accented names right."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header(zone))
    writer.writerows(tuple(_text(c) for c in row) for row in table)
    return ("\ufeff" + out.getvalue()).encode()


def to_xlsx(
    table: Sequence[tuple[Cell, ...]], *, report: MeetingReport, which: ExportList, zone: ZoneInfo
) -> bytes:
    """Row 1 names the meeting and its local start; the table's header is row 2."""
    workbook = Workbook()
    sheet = workbook.worksheets[0]
    # Sheet titles are at most 31 characters and may not contain []:*?/\
    sheet.title = "".join(c for c in report.title if c not in "[]:*?/\\")[:31] or "Attendance"
    workbook.properties.title = f"{report.title} - {which}"
    sheet.append([safe_cell(report.title), local(report.starts_at, zone), which])
    sheet.append(header(zone))
    for row in table:
        sheet.append(row)
    for cells in sheet.iter_rows():
        for cell in cells:
            if isinstance(cell.value, datetime):
                cell.number_format = DATE_FORMAT
    sheet.freeze_panes = "A3"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def filename(report: MeetingReport, which: ExportList, fmt: ExportFormat, zone: ZoneInfo) -> str:
    """`<title>-<local start>-<list>-<id>.<fmt>`: readable, ASCII, unique per meeting."""
    slug = re.sub(r"[^a-z0-9]+", "-", report.title.lower()).strip("-")[:40] or "meeting"
    start = local(report.starts_at, zone)
    return f"{slug}-{start:%Y-%m-%d-%H%M}-{which}-{report.meeting_id.hex[:8]}.{fmt}"


def export(
    report: MeetingReport, which: ExportList, fmt: ExportFormat, zone: ZoneInfo
) -> tuple[bytes, str]:
    """The file's bytes and a download name."""
    table = rows(report, which, zone)
    name = filename(report, which, fmt, zone)
    if fmt == "csv":
        return to_csv(table, zone), name
    return to_xlsx(table, report=report, which=which, zone=zone), name
