"""CSV import of members: every row checked first, a report of every bad row, all or nothing."""

from __future__ import annotations

import csv
import io

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.backend.errors import BadRequestError
from server.backend.models import Member
from server.backend.schemas import ImportRowError, MemberCreate

MAX_ROWS = 5000
# Header spellings people use, mapped to the member fields.
_ALIASES = {
    "full_name": "full_name",
    "name": "full_name",
    "full name": "full_name",
    "ministry": "ministry",
    "sonta": "ministry",
    "email": "email",
    "phone": "phone",
    "notes": "notes",
    "status": "status",
}
_REQUIRED = ("full_name", "ministry")


def _reader(data: bytes) -> tuple[list[str], csv.DictReader[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequestError("The file is not UTF-8 text; save the sheet as CSV UTF-8.") from None
    if "\x00" in text:
        raise BadRequestError("The file is not a CSV text file.")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [(h or "").strip().lower() for h in reader.fieldnames or []]
    fields = [_ALIASES.get(h, "") for h in header]
    missing = [name for name in _REQUIRED if name not in fields]
    if missing:
        raise BadRequestError(f"The CSV header must include: {', '.join(missing)}.")
    repeated = sorted({f for f in fields if f and fields.count(f) > 1})
    if repeated:
        raise BadRequestError(f"The CSV header names these columns twice: {', '.join(repeated)}.")
    reader.fieldnames = [f or f"_ignored_{i}" for i, f in enumerate(fields)]
    return fields, reader


def _row_errors(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in exc.errors()]


def parse_members_csv(
    data: bytes, *, session: Session
) -> tuple[list[MemberCreate], list[ImportRowError]]:
    """Validate every row (line numbers as in a spreadsheet, header = row 1)."""
    _, reader = _reader(data)
    members: list[MemberCreate] = []
    errors: list[ImportRowError] = []
    seen_emails: dict[str, int] = {}
    try:
        for index, raw in enumerate(reader, start=2):
            if index - 1 > MAX_ROWS:
                raise BadRequestError(f"Import at most {MAX_ROWS} rows at a time.")
            values = {k: (v or "").strip() for k, v in raw.items() if k and not k.startswith("_")}
            if not any(values.values()):
                continue  # blank line
            cleaned = {k: v for k, v in values.items() if v or k in _REQUIRED}
            try:
                member = MemberCreate.model_validate(cleaned)
            except ValidationError as exc:
                errors.append(ImportRowError(row=index, errors=_row_errors(exc)))
                continue
            problem = _email_problem(member, index, seen_emails, session)
            if problem:
                errors.append(ImportRowError(row=index, errors=[problem]))
                continue
            members.append(member)
    except csv.Error as exc:
        raise BadRequestError(f"The CSV file cannot be read: {exc}") from None
    return members, errors


def _email_problem(
    member: MemberCreate, row: int, seen: dict[str, int], session: Session
) -> str | None:
    if not member.email:
        return None
    email = member.email.lower()
    if email in seen:
        return f"email: {email} is also on row {seen[email]}"
    seen[email] = row
    if session.scalar(select(Member.id).where(func.lower(Member.email) == email)):
        return f"email: a member with {email} already exists"
    return None
