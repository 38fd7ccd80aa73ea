"""CSV and XLSX exports of a meeting's register (everyone expected, with presence) and
of its absent list.

Cells that a spreadsheet would run as a formula (starting with = + - @ or a control
character) are prefixed with an apostrophe: names come from people, and an export is
opened by someone else (CSV/formula injection).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from openpyxl import Workbook

from server.backend.report_schemas import MeetingReport, PersonLine

ExportList = Literal["attendance", "absent"]
ExportFormat = Literal["csv", "xlsx"]
HEADER = ("Name", "Ministry", "Email", "Presence", "Checked in at (UTC)", "Method")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """Text a spreadsheet shows as text, never evaluates."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def rows(report: MeetingReport, which: ExportList) -> list[tuple[str, ...]]:
    """The export's rows under HEADER, in the report's order (by name)."""
    people: Sequence[PersonLine] = report.people
    if which == "absent":
        people = [p for p in people if p.presence == "absent"]
    return [
        tuple(
            safe_cell(cell)
            for cell in (
                p.full_name,
                p.ministry,
                p.email or "",
                p.presence,
                _when(p.checked_in_at),
                p.method or "",
            )
        )
        for p in people
    ]


def to_csv(table: Sequence[tuple[str, ...]]) -> bytes:
    """UTF-8 with a byte-order mark, so spreadsheet programs read accented names right."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(table)
    return ("\ufeff" + out.getvalue()).encode()


def to_xlsx(table: Sequence[tuple[str, ...]], *, title: str) -> bytes:
    workbook = Workbook()
    sheet = workbook.worksheets[0]
    # Sheet titles are at most 31 characters and may not contain []:*?/\
    sheet.title = "".join(c for c in title if c not in "[]:*?/\\")[:31] or "Attendance"
    sheet.append(HEADER)
    for row in table:
        sheet.append(row)
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def export(report: MeetingReport, which: ExportList, fmt: ExportFormat) -> tuple[bytes, str]:
    """The file's bytes and a download name."""
    table = rows(report, which)
    stem = f"meeting-{report.starts_at:%Y-%m-%d}-{which}"
    if fmt == "csv":
        return to_csv(table), f"{stem}.csv"
    return to_xlsx(table, title=which.capitalize()), f"{stem}.xlsx"
