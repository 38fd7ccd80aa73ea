"""Attendance reports: per meeting, per member, an overview and trends over time.

"Present" counts every approved check-in, late ones included; "late" is the subset
after the meeting's late time; "absent" is an expected person without an approved or
pending check-in. The expected people are those the attendance service expects
(`attendance.is_expected`; nobody at a meeting that expects nobody, where staff check
people in by hand), plus anyone who checked in anyway. Only meetings that took
attendance (active or ended) count in rates, histories and trends.

The grouping is done here rather than in SQL, so SQLite and PostgreSQL agree. Trends
never walk every member per meeting: they count active members per ministry once, then
look at the few people each meeting lists or saw.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import NamedTuple, get_args

from sqlalchemy import Row, and_, func, or_, select
from sqlalchemy.orm import Session

from server.backend.crud import members as members_crud
from server.backend.errors import NotFoundError
from server.backend.models import AttendanceRecord, Meeting, Member
from server.backend.schemas.reports import (
    MeetingReport,
    MemberHistory,
    MemberMeetingLine,
    Overview,
    Period,
    PersonLine,
    Presence,
    StatusCounts,
    TrendPoint,
    Trends,
)
from server.backend.services.attendance import expected_unlisted, expects_nobody, is_expected

TOOK_ATTENDANCE = ("active", "ended")


def _rate(present: int, expected: int) -> float | None:
    return round(present / expected, 4) if expected else None


class Counted(NamedTuple):
    """What a report reads of an attendance record (rows, not ORM objects: a season of
    check-ins is tens of thousands of them)."""

    meeting_id: uuid.UUID
    member_id: uuid.UUID
    status: str
    late: bool
    server_time: datetime
    method: str
    # The member's, now.
    member_status: str
    ministry: str


def _presence(record: Counted | None) -> Presence:
    if record is None:
        return "absent"
    if record.status == "pending_review":
        return "pending_review"
    return "late" if record.late else "present"


def _records_by_meeting(
    session: Session, meeting_ids: Iterable[uuid.UUID], member_id: uuid.UUID | None = None
) -> dict[uuid.UUID, dict[uuid.UUID, Counted]]:
    """Each meeting's counting record per member (or of one member): approved first, else
    pending review."""
    query = (
        select(
            AttendanceRecord.meeting_id,
            AttendanceRecord.member_id,
            AttendanceRecord.status,
            AttendanceRecord.late,
            AttendanceRecord.server_time,
            AttendanceRecord.method,
            Member.status,
            Member.ministry,
        )
        .join(Member, Member.id == AttendanceRecord.member_id)
        .where(
            AttendanceRecord.meeting_id.in_(list(meeting_ids)),
            AttendanceRecord.status.in_(("approved", "pending_review")),
        )
    )
    if member_id is not None:
        query = query.where(AttendanceRecord.member_id == member_id)
    found: dict[uuid.UUID, dict[uuid.UUID, Counted]] = defaultdict(dict)
    for row in session.execute(query.order_by(AttendanceRecord.server_time)):
        record = Counted._make(row)
        current = found[record.meeting_id].get(record.member_id)
        if current is None or (current.status != "approved" and record.status == "approved"):
            found[record.meeting_id][record.member_id] = record
    return found


def _meeting_people(
    session: Session, meeting: Meeting, records: dict[uuid.UUID, Counted]
) -> list[tuple[Row[uuid.UUID, str, str, str | None, str | None], Counted | None]]:
    """The members a meeting expects and everyone else who checked in, by name, read as
    rows. Only they are read: which stored ministry names the meeting expects is decided
    here (as `attendance.is_expected` decides), then those names are matched in SQL."""
    ministries = [
        name
        for name in _active_by_ministry(session)
        if _expected_unlisted(meeting, status="active", ministry=name)
    ]
    checked_in = select(AttendanceRecord.member_id).where(
        AttendanceRecord.meeting_id == meeting.id,
        AttendanceRecord.status.in_(("approved", "pending_review")),
    )
    listed = [uuid.UUID(i) for i in meeting.expected_member_ids]
    query = select(Member.id, Member.full_name, Member.ministry, Member.email, Member.phone).where(
        or_(
            and_(Member.status == "active", Member.ministry.in_(ministries)),
            Member.id.in_(listed),
            Member.id.in_(checked_in),
        )
    )
    rows = session.execute(query.order_by(Member.full_name, Member.id))
    return [(row, records.get(row.id)) for row in rows]


def meeting_report(session: Session, *, meeting_id: uuid.UUID) -> MeetingReport:
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFoundError("No such meeting.")
    records = _records_by_meeting(session, [meeting.id]).get(meeting.id, {})
    lines = [
        PersonLine(
            member_id=member.id,
            full_name=member.full_name,
            ministry=member.ministry,
            email=member.email,
            phone=member.phone,
            presence=_presence(record),
            checked_in_at=record.server_time if record else None,
            method=record.method if record else None,
        )
        for member, record in _meeting_people(session, meeting, records)
    ]
    count = {p: sum(1 for line in lines if line.presence == p) for p in get_args(Presence)}
    present = count["present"] + count["late"]
    return MeetingReport(
        meeting_id=meeting.id,
        title=meeting.title,
        starts_at=meeting.starts_at,
        status=meeting.status,
        expected=len(lines),
        present=present,
        late=count["late"],
        pending_review=count["pending_review"],
        absent=count["absent"],
        attendance_rate=_rate(present, len(lines)),
        people=lines,
    )


def _meetings(session: Session, since: datetime | None, until: datetime | None) -> list[Meeting]:
    query = select(Meeting).where(Meeting.status.in_(TOOK_ATTENDANCE))
    if since is not None:
        query = query.where(Meeting.starts_at >= since)
    if until is not None:
        query = query.where(Meeting.starts_at < until)
    return list(session.scalars(query.order_by(Meeting.starts_at, Meeting.id)))


def member_history(
    session: Session,
    *,
    member_id: uuid.UUID,
    since: datetime | None = None,
    until: datetime | None = None,
) -> MemberHistory:
    member = session.get(Member, member_id)
    if member is None:
        raise NotFoundError("No such member.")
    meetings = _meetings(session, since, until)
    records = _records_by_meeting(session, [m.id for m in meetings], member_id=member.id)
    lines = []
    for meeting in meetings:
        record = records.get(meeting.id, {}).get(member.id)
        if record is None and (expects_nobody(meeting) or not is_expected(meeting, member)):
            continue
        lines.append(
            MemberMeetingLine(
                meeting_id=meeting.id,
                title=meeting.title,
                starts_at=meeting.starts_at,
                presence=_presence(record),
                checked_in_at=record.server_time if record else None,
                method=record.method if record else None,
            )
        )
    late = sum(1 for line in lines if line.presence == "late")
    present = late + sum(1 for line in lines if line.presence == "present")
    return MemberHistory(
        member_id=member.id,
        full_name=member.full_name,
        meetings=len(lines),
        present=present,
        late=late,
        absent=sum(1 for line in lines if line.presence == "absent"),
        attendance_rate=_rate(present, len(lines)),
        history=lines,
    )


def _period_start(when: datetime, period: Period) -> date:
    day = when.date()
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def trends(
    session: Session,
    *,
    period: Period,
    since: datetime | None = None,
    until: datetime | None = None,
    ministry: str | None = None,
) -> Trends:
    """Per week (from Monday) or month: meetings, expected, present, late, rate (UTC dates).

    With a `ministry`, only its people count, and only meetings that expected any of them.
    Counting does not walk every member for every meeting (that took seconds at 50,000
    members): a meeting's expected people are the active members of its ministries,
    counted once per ministry, plus the few people it lists or who checked in.
    """
    meetings = _meetings(session, since, until)
    records = _records_by_meeting(session, [m.id for m in meetings])
    active = _active_by_ministry(session)
    if ministry is not None:
        active = {name: n for name, n in active.items() if name == ministry}
    people = {
        r.member_id: _Person(r.member_status, r.ministry)
        for seen in records.values()
        for r in seen.values()
    }
    # Listed people who never checked in (records bring the others' status and ministry).
    named = {uuid.UUID(i) for m in meetings for i in m.expected_member_ids}
    people.update(_people_by_id(session, named - people.keys()))

    def counts(member_id: uuid.UUID) -> bool:
        person = people.get(member_id)
        return person is not None and ministry in (None, person.ministry)

    buckets: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for meeting in meetings:
        seen = records.get(meeting.id, {})
        listed = {uuid.UUID(i) for i in meeting.expected_member_ids}
        extra = [
            i
            for i in listed | seen.keys()
            if counts(i)
            and not _expected_unlisted(
                meeting, status=people[i].status, ministry=people[i].ministry
            )
        ]
        expected = _active_expected(meeting, active) + len(extra)
        if ministry is not None and not expected:
            continue
        approved = [r for i, r in seen.items() if r.status == "approved" and counts(i)]
        bucket = buckets[_period_start(meeting.starts_at, period)]
        bucket[0] += 1
        bucket[1] += expected
        bucket[2] += len(approved)
        bucket[3] += sum(1 for record in approved if record.late)
    points = [
        TrendPoint(
            period_start=start,
            meetings=n,
            expected=expected,
            present=present,
            late=late,
            attendance_rate=_rate(present, expected),
        )
        for start, (n, expected, present, late) in sorted(buckets.items())
    ]
    return Trends(period=period, ministry=ministry, points=points)


@dataclass(frozen=True)
class _Person:
    status: str
    ministry: str


def _active_by_ministry(session: Session) -> dict[str, int]:
    """How many active members each ministry (as stored) has."""
    query = select(Member.ministry, func.count()).where(Member.status == "active")
    return {name: n for name, n in session.execute(query.group_by(Member.ministry))}


def _people_by_id(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, _Person]:
    query = select(Member.id, Member.status, Member.ministry).where(Member.id.in_(list(ids)))
    return {i: _Person(status, name) for i, status, name in session.execute(query)}


def _expected_unlisted(meeting: Meeting, *, status: str, ministry: str) -> bool:
    """`attendance.expected_unlisted`, but a meeting that expects nobody
    (`attendance.expects_nobody`) expects nobody here either: staff may check anyone in
    there, and only those they did count (before, every active member was absent)."""
    return not expects_nobody(meeting) and expected_unlisted(
        meeting, status=status, ministry=ministry
    )


def _active_expected(meeting: Meeting, active: dict[str, int]) -> int:
    """How many active members the meeting expects without listing them."""
    expects = partial(_expected_unlisted, meeting, status="active")
    return sum(n for name, n in active.items() if expects(ministry=name))


def overview(
    session: Session, *, since: datetime | None = None, until: datetime | None = None
) -> Overview:
    """Meetings by status, check-ins by status, late count and the overall attendance rate."""
    query = select(Meeting.status, func.count()).group_by(Meeting.status)
    if since is not None:
        query = query.where(Meeting.starts_at >= since)
    if until is not None:
        query = query.where(Meeting.starts_at < until)
    by_status = {status: count for status, count in session.execute(query).all()}
    points = trends(session, period="month", since=since, until=until).points
    ids = [m.id for m in _meetings(session, since, until)]
    statuses = select(AttendanceRecord.status, func.count()).where(
        AttendanceRecord.meeting_id.in_(ids)
    )
    checkins = {s: n for s, n in session.execute(statuses.group_by(AttendanceRecord.status))}
    active = select(func.count()).select_from(Member).where(Member.status == "active")
    expected, present = sum(p.expected for p in points), sum(p.present for p in points)
    return Overview(
        since=since,
        until=until,
        meetings={s: by_status.get(s, 0) for s in ("scheduled", "active", "ended", "cancelled")},
        active_members=session.scalar(active) or 0,
        ministries=members_crud.ministries(session),
        checkins=StatusCounts(**checkins),
        late=sum(p.late for p in points),
        attendance_rate=_rate(present, expected),
    )
