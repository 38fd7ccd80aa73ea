"""Response bodies of the reports (`/api/reports`): overview, meeting, member, trends."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, StringConstraints

Period = Literal["week", "month"]
Presence = Literal["present", "late", "pending_review", "absent"]


class StatusCounts(BaseModel):
    approved: int = 0
    pending_review: int = 0
    rejected: int = 0


class Overview(BaseModel):
    """Counts over meetings starting in [since, until)."""

    since: datetime | None
    until: datetime | None
    meetings: dict[str, int]
    active_members: int
    ministries: list[str]  # of the active members, by name
    checkins: StatusCounts
    late: int
    attendance_rate: float | None


class PersonLine(BaseModel):
    member_id: uuid.UUID
    full_name: str
    ministry: str
    email: str | None
    phone: str | None = None  # to follow up absentees
    presence: Presence
    checked_in_at: datetime | None
    method: str | None


class MeetingReport(BaseModel):
    """Who was expected, who came (on time or late), who awaits review, who was absent."""

    meeting_id: uuid.UUID
    title: str
    starts_at: datetime
    status: str
    expected: int
    present: int
    late: int
    pending_review: int
    absent: int
    attendance_rate: float | None
    people: list[PersonLine]


class MemberMeetingLine(BaseModel):
    meeting_id: uuid.UUID
    title: str
    starts_at: datetime
    presence: Presence
    checked_in_at: datetime | None
    method: str | None


class MemberHistory(BaseModel):
    member_id: uuid.UUID
    full_name: str
    meetings: int
    present: int
    late: int
    absent: int
    attendance_rate: float | None
    history: list[MemberMeetingLine]


class TrendPoint(BaseModel):
    period_start: date
    meetings: int
    expected: int
    present: int
    late: int
    attendance_rate: float | None


class Trends(BaseModel):
    period: Period
    ministry: str | None  # only this ministry's people counted, when given
    points: list[TrendPoint]


class AbsenteeMessage(BaseModel):
    """What to email a meeting's absent members (plain text, signed by the church)."""

    text: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=1, max_length=2000, pattern=r"^[^\x00]*$"
        ),
    ]


class AbsenteesMessaged(BaseModel):
    """Who was emailed now, who had been before (and was not again), who has no email."""

    detail: str
    sent: list[str]
    already: list[str]
    without_email: list[str]
