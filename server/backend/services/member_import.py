"""CSV import of members: every row checked first, a report of every row, all or nothing.

Two modes. `create` (the default) adds every row as a new member and refuses a row
whose email is taken. `update` matches each row to an existing member by its member
code (a `member_code` column), else its email, else its name and phone together, changes
the filled-in cells of that member (blank cells leave a value as it is), and adds the
rows that match nobody. With `dry_run` the per-row report (created / updated /
unchanged, with the changed fields) comes back and nothing is saved, so an admin sees
what will happen first.

A row about to create someone who looks already listed (the same name, and the same
phone when both have one, else the same ministry; in the database or earlier in the
file) carries a `warning`: people without an email would otherwise be added twice unseen.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.backend import member_codes
from server.backend.crud import members as crud
from server.backend.errors import BadRequestError
from server.backend.models import Member
from server.backend.schemas.resources import (
    ImportRowProblem,
    ImportRowReport,
    MemberCreate,
    MemberUpdate,
)

MAX_ROWS = 5000
ImportMode = Literal["create", "update"]
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
    "member_code": "member_code",
    "member code": "member_code",
    "code": "member_code",
}
_REQUIRED = ("full_name", "ministry")


@dataclass
class ImportPlan:
    """What the file would do: rows to create, members to change, and every bad row."""

    creates: list[tuple[int, MemberCreate]] = field(default_factory=list)
    updates: list[tuple[int, Member, MemberUpdate]] = field(default_factory=list)
    report: list[ImportRowReport] = field(default_factory=list)
    errors: list[ImportRowProblem] = field(default_factory=list)
    # Who each email and member already belongs to in this file, by row.
    emails: dict[str, int] = field(default_factory=dict)
    matched: dict[str, int] = field(default_factory=dict)
    # The rows creating someone, by name (folded), to warn about the same person twice.
    newcomers: dict[str, list[tuple[int, MemberCreate]]] = field(default_factory=dict)


def _reader(data: bytes, mode: ImportMode) -> csv.DictReader[str]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequestError("The file is not UTF-8 text; save the sheet as CSV UTF-8.") from None
    if "\x00" in text:
        raise BadRequestError("The file is not a CSV text file.")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [(h or "").strip().lower() for h in reader.fieldnames or []]
    fields = [_ALIASES.get(h, "") for h in header]
    if mode == "create":
        missing = [name for name in _REQUIRED if name not in fields]
        if missing:
            raise BadRequestError(f"The CSV header must include: {', '.join(missing)}.")
    elif not {"member_code", "email"} & set(fields) and not {"full_name", "phone"} <= set(fields):
        raise BadRequestError(
            "To update members the CSV needs a member_code or email column, or full_name "
            "and phone columns."
        )
    repeated = sorted({f for f in fields if f and fields.count(f) > 1})
    if repeated:
        raise BadRequestError(f"The CSV header names these columns twice: {', '.join(repeated)}.")
    reader.fieldnames = [f or f"_ignored_{i}" for i, f in enumerate(fields)]
    return reader


def _row_errors(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in exc.errors()]


def plan_import(data: bytes, *, session: Session, mode: ImportMode = "create") -> ImportPlan:
    """Check every row (line numbers as in a spreadsheet, header = row 1)."""
    reader = _reader(data, mode)
    plan = ImportPlan()
    try:
        for index, raw in enumerate(reader, start=2):
            if index - 1 > MAX_ROWS:
                raise BadRequestError(f"Import at most {MAX_ROWS} rows at a time.")
            values = {k: (v or "").strip() for k, v in raw.items() if k and not k.startswith("_")}
            if any(values.values()):
                _plan_row(plan, session, mode, index, values)
    except csv.Error as exc:
        raise BadRequestError(f"The CSV file cannot be read: {exc}") from None
    return plan


def _plan_row(
    plan: ImportPlan, session: Session, mode: ImportMode, row: int, values: dict[str, str]
) -> None:
    code = values.pop("member_code", "")
    try:
        member = _match(session, code, values) if mode == "update" else None
        if member is not None:
            _plan_update(plan, session, row, member, values)
        else:
            _plan_create(plan, session, row, values, code=code)
    except _RowError as exc:
        plan.errors.append(ImportRowProblem(row=row, errors=exc.problems))


class _RowError(Exception):
    """Every problem of one row. Private on purpose, and not in the SontaServerError
    tree: it never leaves this module, where `_plan_row` turns it into the row's entry
    in the import report and the import goes on with the next row."""

    def __init__(self, *problems: str) -> None:
        self.problems = list(problems)


def _match(session: Session, code: str, values: dict[str, str]) -> Member | None:
    """The member a row is about: by member code, else email, else name and phone."""
    if code:
        member = crud.by_code(session=session, code=code)
        if member is None:
            raise _RowError(f"member_code: no member has the code {member_codes.normalise(code)}")
        return member
    email = values.get("email", "")
    if email:
        query = select(Member).where(func.lower(Member.email) == email.lower())
        return session.scalars(query).first()
    name, phone = values.get("full_name", ""), _digits(values.get("phone", ""))
    if not (name and phone):
        return None
    found = [m for m in _named(session, name) if _digits(m.phone or "") == phone]
    if len(found) > 1:
        raise _RowError(
            f"{len(found)} members are named {name} with this phone; add a member_code "
            "column to say which one"
        )
    return found[0] if found else None


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


def _named(session: Session, name: str) -> list[Member]:
    query = select(Member).where(func.lower(Member.full_name) == _fold(name))
    return list(session.scalars(query))


def _fold(name: str) -> str:
    return " ".join(name.split()).lower()


def _alike(phone: str | None, ministry: str, other_phone: str | None, other_ministry: str) -> bool:
    """Two people of the same name are likely one: the same phone when both have one,
    else the same ministry."""
    mine, theirs = _digits(phone or ""), _digits(other_phone or "")
    if mine and theirs:
        return mine == theirs
    return ministry.strip().lower() == other_ministry.strip().lower()


def _duplicate_warning(plan: ImportPlan, session: Session, row: int, new: MemberCreate) -> str:
    """Why the row looks like someone already listed (or earlier in the file), or ""."""
    same = "phone" if _digits(new.phone or "") else "ministry"
    for member in _named(session, new.full_name):
        if _alike(new.phone, new.ministry, member.phone, member.ministry):
            return (
                f"looks like {member.full_name} ({member.member_code}, {member.ministry}), "
                f"already listed with the same name and {same}; to change them instead, "
                "import in update mode (Update existing)"
            )
    earlier = plan.newcomers.setdefault(_fold(new.full_name), [])
    twin = next((r for r, m in earlier if _alike(new.phone, new.ministry, m.phone, m.ministry)), 0)
    earlier.append((row, new))
    return f"looks like the person on row {twin} (the same name and {same})" if twin else ""


def _validated(schema: type[Any], values: dict[str, Any]) -> Any:
    try:
        return schema.model_validate(values)
    except ValidationError as exc:
        raise _RowError(*_row_errors(exc)) from None


def _plan_update(
    plan: ImportPlan, session: Session, row: int, member: Member, values: dict[str, str]
) -> None:
    key = str(member.id)
    if key in plan.matched:
        raise _RowError(f"{member.member_code} is also on row {plan.matched[key]}")
    plan.matched[key] = row
    update: MemberUpdate = _validated(MemberUpdate, {k: v for k, v in values.items() if v})
    _check_email(plan, session, row, update.email, owner=member)
    changed = sorted(
        name
        for name, value in update.model_dump(exclude_unset=True).items()
        if _differs(name, value, getattr(member, name))
    )
    plan.updates.append((row, member, update))
    plan.report.append(
        ImportRowReport(
            row=row,
            action="updated" if changed else "unchanged",
            full_name=update.full_name or member.full_name,
            member_code=member.member_code,
            changes=changed,
        )
    )


def _differs(name: str, new: object, current: object) -> bool:
    if name == "email":  # emails are stored lower-cased
        return str(new).lower() != str(current or "").lower()
    return new != current


def _plan_create(
    plan: ImportPlan, session: Session, row: int, values: dict[str, str], *, code: str
) -> None:
    cleaned = {k: v for k, v in values.items() if v or k in _REQUIRED}
    member: MemberCreate = _validated(MemberCreate, cleaned)
    _check_email(plan, session, row, member.email, owner=None)
    plan.creates.append((row, member))
    plan.report.append(
        ImportRowReport(
            row=row,
            action="created",
            full_name=member.full_name,
            member_code="",
            warning=_duplicate_warning(plan, session, row, member),
        )
    )


def _check_email(
    plan: ImportPlan, session: Session, row: int, email: str | None, *, owner: Member | None
) -> None:
    if not email:
        return
    email = email.lower()
    if email in plan.emails:
        raise _RowError(f"email: {email} is also on row {plan.emails[email]}")
    plan.emails[email] = row
    holder = session.scalar(select(Member.id).where(func.lower(Member.email) == email))
    if holder is not None and (owner is None or holder != owner.id):
        hint = "" if owner else "; to change that member, import in update mode (Update existing)"
        raise _RowError(f"email: a member with {email} already exists{hint}")


def apply(plan: ImportPlan, *, session: Session) -> None:
    """Store the plan's creations and changes; the caller commits (all or nothing)."""
    for _row, member_in in plan.creates:
        crud.create(session=session, member_in=member_in)
    for _row, member, update in plan.updates:
        crud.update(session=session, member=member, member_in=update)
    session.flush()
