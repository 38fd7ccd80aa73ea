"""Meetings: schedule, place, expected people, QR policy, and their life cycle."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from server.backend import lifecycle
from server.backend.errors import BadRequestError, ConflictError, NotFoundError
from server.backend.models import Admin, Kiosk, Meeting, Member, utcnow
from server.backend.schemas.resources import MeetingCopy, MeetingCreate, MeetingUpdate


def get(*, session: Session, meeting_id: uuid.UUID) -> Meeting:
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFoundError("No such meeting.")
    return meeting


def search(
    *,
    session: Session,
    status: str | None = None,
    starts_after: datetime | None = None,
    starts_before: datetime | None = None,
    skip: int = 0,
    limit: int = 100,
) -> tuple[list[Meeting], int]:
    query = select(Meeting)
    if status:
        query = query.where(Meeting.status == status)
    if starts_after:
        query = query.where(Meeting.starts_at >= starts_after)
    if starts_before:
        query = query.where(Meeting.starts_at < starts_before)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Meeting.starts_at.desc()).offset(skip).limit(limit))
    return list(rows), count


def check_consistency(meeting: Meeting) -> None:
    """Refuse a schedule, place or QR policy that cannot work, naming each problem."""
    problems = []
    if meeting.ends_at <= meeting.starts_at:
        problems.append("ends_at must be after starts_at")
    if meeting.late_after and not meeting.starts_at <= meeting.late_after <= meeting.ends_at:
        problems.append("late_after must be between starts_at and ends_at")
    if (meeting.latitude is None) != (meeting.longitude is None):
        problems.append("give both latitude and longitude, or neither")
    if meeting.qr_policy == "max_scans" and not meeting.qr_max_scans:
        problems.append("qr_policy max_scans needs qr_max_scans")
    if meeting.qr_policy == "minutes" and not meeting.qr_valid_minutes:
        problems.append("qr_policy minutes needs qr_valid_minutes")
    if problems:
        raise BadRequestError("; ".join(problems) + ".")


# Who a meeting expects is one of these or `open_to_everyone`; never nothing by default.
WHO = ("expected_ministries", "expected_member_ids", "open_to_everyone")


def check_expected(meeting: Meeting) -> None:
    """Refuse a meeting that lists nobody without being opened to everyone, as the admin
    app's form does: its kiosks would hold nobody's face for it, which is rarely meant
    and easily missed (an unlisted meeting usually means "not decided yet")."""
    if meeting.expected_ministries or meeting.expected_member_ids or meeting.open_to_everyone:
        return
    raise BadRequestError(
        "Say who is expected at this meeting: list expected_ministries or "
        "expected_member_ids, or set open_to_everyone to true (its kiosks then hold "
        "every member's face)."
    )


def _expected_members(session: Session, member_ids: list[uuid.UUID]) -> list[str]:
    """The ids as stored; refuses ids that name no member."""
    unique = list(dict.fromkeys(member_ids))
    found = (
        set(session.scalars(select(Member.id).where(Member.id.in_(unique)))) if unique else set()
    )
    missing = [str(m) for m in unique if m not in found]
    if missing:
        raise BadRequestError(
            f"expected_member_ids names unknown members: {', '.join(missing[:10])}."
        )
    return [str(m) for m in unique]


def _kiosks(session: Session, kiosk_ids: list[uuid.UUID]) -> list[str]:
    """The ids as stored; refuses ids that name no kiosk (revoked ones are allowed)."""
    unique = list(dict.fromkeys(kiosk_ids))
    found = set(session.scalars(select(Kiosk.id).where(Kiosk.id.in_(unique)))) if unique else set()
    missing = [str(k) for k in unique if k not in found]
    if missing:
        raise BadRequestError(f"kiosk_ids names unknown kiosks: {', '.join(missing[:10])}.")
    return [str(k) for k in unique]


def create(*, session: Session, meeting_in: MeetingCreate, by: Admin) -> Meeting:
    data = meeting_in.model_dump()
    data["expected_member_ids"] = _expected_members(session, meeting_in.expected_member_ids)
    data["kiosk_ids"] = _kiosks(session, meeting_in.kiosk_ids)
    meeting = Meeting(**data, created_by_id=by.id)
    check_consistency(meeting)
    check_expected(meeting)
    session.add(meeting)
    session.flush()
    return meeting


def update_meeting(
    *, session: Session, meeting: Meeting, meeting_in: MeetingUpdate
) -> dict[str, object]:
    """Apply the fields sent. A change to who is expected must leave someone expected (or
    everyone); other changes to a meeting saved before that rule still go through."""
    if meeting.status in ("ended", "cancelled"):
        raise ConflictError(lifecycle.refusal(meeting.status, "change"))
    changes = meeting_in.model_dump(exclude_unset=True)
    nullable = {"late_after", "latitude", "longitude", "qr_max_scans", "qr_valid_minutes"}
    changes = {k: v for k, v in changes.items() if v is not None or k in nullable}
    if "expected_member_ids" in changes:
        changes["expected_member_ids"] = _expected_members(session, changes["expected_member_ids"])
    if "kiosk_ids" in changes:
        changes["kiosk_ids"] = _kiosks(session, changes["kiosk_ids"])
    for name, value in changes.items():
        setattr(meeting, name, value)
    check_consistency(meeting)
    if any(name in changes for name in WHO):
        check_expected(meeting)
    session.flush()
    return changes


def transition(
    *, session: Session, meeting: Meeting, action: str, ends_at: datetime | None = None
) -> None:
    """Start, end, cancel or reopen; refuse moves the life cycle does not allow.

    Reopening takes an optional new `ends_at`: a meeting whose end time has passed
    cannot take check-ins, so it needs a later one.
    """
    allowed_from, target = lifecycle.TRANSITIONS[action]
    if meeting.status not in allowed_from:
        raise ConflictError(lifecycle.refusal(meeting.status, action))
    now = utcnow()
    if action == "reopen":
        meeting.ends_at = ends_at or meeting.ends_at
        if meeting.ends_at <= now:
            raise ConflictError(
                "This meeting's end time has passed: reopen it with a later ends_at, "
                "or copy it to a new meeting."
            )
        check_consistency(meeting)
        meeting.ended_at = None
    elif action == "start":
        meeting.started_at = now
    else:
        meeting.ended_at = now
    meeting.status = target
    session.flush()


def copy(*, session: Session, meeting: Meeting, copy_in: MeetingCopy, by: Admin) -> Meeting:
    """A new scheduled meeting like `meeting` (place, people, QR policy), at a new time.

    Without a new start the copy is one week later, the rhythm of a weekly meeting; the
    other times keep their distance from the start.
    """
    data = MeetingCreate.model_validate(meeting, from_attributes=True).model_dump()
    starts_at = copy_in.starts_at or meeting.starts_at + timedelta(days=7)
    shift = starts_at - meeting.starts_at
    data["starts_at"] = starts_at
    data["ends_at"] = copy_in.ends_at or meeting.ends_at + shift
    data["late_after"] = meeting.late_after + shift if meeting.late_after else None
    if data["late_after"] and not starts_at <= data["late_after"] <= data["ends_at"]:
        data["late_after"] = None
    data["title"] = copy_in.title or meeting.title
    return create(session=session, meeting_in=MeetingCreate.model_validate(data), by=by)


def qr_closes_at(meeting: Meeting) -> datetime:
    """When the meeting's QR codes stop being valid under its policy."""
    if meeting.qr_policy == "minutes" and meeting.qr_valid_minutes:
        opened = meeting.started_at or meeting.starts_at
        return min(opened + timedelta(minutes=meeting.qr_valid_minutes), meeting.ends_at)
    return meeting.ends_at


def scans_left(meeting: Meeting) -> bool:
    """Whether the max-scans policy (if any) still allows a check-in by QR."""
    if meeting.qr_policy != "max_scans" or not meeting.qr_max_scans:
        return True
    return meeting.qr_scan_count < meeting.qr_max_scans


def count_scan(*, session: Session, meeting: Meeting) -> bool:
    """Count one scan atomically; False when the max-scans policy is used up.

    One UPDATE with the limit in its WHERE clause, so concurrent replicas can never
    exceed the limit between them.
    """
    statement = update(Meeting).where(Meeting.id == meeting.id)
    if meeting.qr_policy == "max_scans" and meeting.qr_max_scans:
        statement = statement.where(Meeting.qr_scan_count < meeting.qr_max_scans)
    result = session.execute(
        statement.values(qr_scan_count=Meeting.qr_scan_count + 1),
        execution_options={"synchronize_session": False},
    )
    return bool(getattr(result, "rowcount", 0))
