"""Recording check-ins: the one path every check-in method goes through.

`record_checkin` refuses meetings that are not taking check-ins and members the meeting
does not expect, answers "already checked in" instead of storing a second approved
record, and works out the late and clock-drift flags. A meeting that expects nobody
(`expects_nobody`) takes staff check-ins only: no face check-in is approved there.
It never commits: the caller commits (with its audit entry or idempotency key), then
announces the outcome with `announce`, so a live event never describes a record that
was rolled back.

Time: the server's clock is the reference. A device's clock reading is kept as
`device_time`; when the device's drift is known (measured from its heartbeat or the
batch it sent) the moment of check-in is the device time corrected by that drift, so
a check-in queued offline and uploaded an hour later is judged late or not by when it
happened. When the drift is unknown the check-in is taken as live and the drift is
device time minus server time.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.backend.errors import CheckinRefusedError
from server.backend.models import AttendanceRecord, Meeting, Member, utcnow

# Beyond this difference between a device's clock and the server's, the record is
# flagged: two minutes is far above NTP-synchronised error and below a late threshold.
MAX_CLOCK_DRIFT_S = 120.0
DRIFT_NOISE_S = 2.0

METHODS = frozenset({"face", "badge_face", "qr", "manual", "phone"})
# Methods decided by a face (kiosk, badge + kiosk, phone selfie), not by a person.
FACE_METHODS = frozenset({"face", "badge_face", "phone"})
STATUSES = frozenset({"approved", "pending_review", "rejected"})

NOBODY_BY_FACE = (
    "This meeting expects nobody by face (it lists no ministry or member and is not open "
    "to everyone), so a staff member checks people in."
)

OutcomeResult = Literal["recorded", "already_checked_in"]
# The approved record of (meeting, member) among those a batch loaded, or None.
ApprovedLookup = Callable[[uuid.UUID, uuid.UUID], AttendanceRecord | None]
# Receives an event type ("attendance.recorded", ...) and the committed record.
EventPublisher = Callable[[str, AttendanceRecord], None]


@dataclass(frozen=True)
class CheckinOutcome:
    result: OutcomeResult
    record: AttendanceRecord


@dataclass(frozen=True)
class CheckinTiming:
    """When the check-in happened by the server's clock, and whether the clock was off."""

    server_time: datetime
    occurred_at: datetime
    drift_flag: bool


def timing(
    *, device_time: datetime | None, clock_drift_s: float | None, now: datetime | None = None
) -> CheckinTiming:
    """Correct a device's time by its measured drift; flag a drift above the limit."""
    server_time = now or utcnow()
    if device_time is None:
        return CheckinTiming(server_time, server_time, False)
    if clock_drift_s is None:
        drift = (device_time - server_time).total_seconds()
        flagged = abs(drift) > MAX_CLOCK_DRIFT_S
        return CheckinTiming(server_time, server_time if flagged else device_time, flagged)
    # A measured drift includes the network's latency; below a couple of seconds it is
    # that noise, not the device's clock, so the device time stands as it is.
    correction = clock_drift_s if abs(clock_drift_s) >= DRIFT_NOISE_S else 0.0
    corrected = device_time - timedelta(seconds=correction)
    # A corrected time in the future is still a clock problem; never date after receipt.
    occurred = min(corrected, server_time)
    return CheckinTiming(server_time, occurred, abs(clock_drift_s) > MAX_CLOCK_DRIFT_S)


class Person(Protocol):
    """What deciding whether a meeting expects someone reads: a `Member`, or a row of
    just these columns (the gallery scope reads every member on every kiosk sync)."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def status(self) -> str: ...

    @property
    def ministry(self) -> str: ...


def is_expected(meeting: Meeting, member: Person) -> bool:
    """Listed by id, or active in an expected ministry; with no list, every active member."""
    return expects(meeting)(member)


def expects_nobody(meeting: Meeting) -> bool:
    """A meeting that names no ministry and no member and is not opened to everyone.

    Its kiosks get nobody's face for it and send faces to staff; no face check-in counts
    there (staff check people in by hand). Older releases saved such meetings.
    """
    return not (
        meeting.expected_ministries or meeting.expected_member_ids or meeting.open_to_everyone
    )


def expected_by_face(meeting: Meeting, member: Person) -> bool:
    """Whether the meeting takes this member's face check-in: expected, by a meeting
    that expects someone (`expects_nobody`)."""
    return not expects_nobody(meeting) and is_expected(meeting, member)


def expects(meeting: Meeting) -> Callable[[Person], bool]:
    """`is_expected` for one meeting and many people: the listed ids become a set once.

    Asked person by person against the stored list, a meeting that lists its 5,000
    people by id compared ids 5,000 times per person on every kiosk's gallery sync.
    """
    listed = frozenset(meeting.expected_member_ids)

    def check(member: Person) -> bool:
        return (bool(listed) and str(member.id) in listed) or expected_unlisted(
            meeting, status=member.status, ministry=member.ministry
        )

    return check


def expected_unlisted(meeting: Meeting, *, status: str, ministry: str) -> bool:
    """Whether the meeting expects a member of this status and ministry without listing
    them: an active one in an expected ministry, or any active one when nothing is listed."""
    if status != "active":
        return False
    if meeting.expected_ministries:
        wanted = {m.strip().lower() for m in meeting.expected_ministries}
        return ministry.strip().lower() in wanted
    return not meeting.expected_member_ids


def check_open(meeting: Meeting, occurred_at: datetime, *, accept_ended: bool) -> None:
    """Refuse a meeting not taking check-ins; an ended one only for check-ins made in time.

    `accept_ended` is for queued kiosk uploads: a check-in made while the meeting was
    active is kept even if it reaches the server after the meeting ended.
    """
    if meeting.status == "active":
        return
    if (
        accept_ended
        and meeting.status == "ended"
        and meeting.started_at is not None
        and meeting.ended_at is not None
        and meeting.started_at <= occurred_at <= meeting.ended_at
    ):
        return
    raise CheckinRefusedError(f"The meeting is {meeting.status}; it is not taking check-ins.")


def approved_record(
    session: Session, *, meeting_id: uuid.UUID, member_id: uuid.UUID
) -> AttendanceRecord | None:
    query = select(AttendanceRecord).where(
        AttendanceRecord.meeting_id == meeting_id,
        AttendanceRecord.member_id == member_id,
        AttendanceRecord.status == "approved",
    )
    return session.scalars(query).first()


def record_checkin(
    session: Session,
    *,
    meeting: Meeting,
    member_id: uuid.UUID,
    method: str,
    status: str,
    similarity: float | None = None,
    margin: float | None = None,
    kiosk_id: uuid.UUID | None = None,
    device_time: datetime | None = None,
    clock_drift_s: float | None = None,
    created_by_id: uuid.UUID | None = None,
    accept_ended: bool = False,
    isolate_race: bool = True,
    approved: ApprovedLookup | None = None,
    review_reason: str = "",
) -> CheckinOutcome:
    """Store one check-in, or return the member's approved record if there already is one.

    Raises CheckinRefusedError for a closed meeting, an unexpected member, or a face
    check-in to approve at a meeting that expects nobody. `review_reason` tells the
    reviewers why a pending record waits for them. When a concurrent request stored
    the approved record first, the unique index refuses ours and the winner is
    returned (see `_insert`). A caller that reruns its whole transaction after an
    IntegrityError passes `isolate_race=False`, which skips the savepoint and lets the
    error propagate (two round trips fewer per check-in).

    `approved`, for a caller storing many check-ins in one transaction, answers "the
    approved record of this meeting and member" from what it loaded for all of them at
    once; the record is then only added to the session, to be inserted with the others
    at the next flush (the index still refuses a duplicate there), and the caller
    tells `approved` of it. Without it, each check-in asks the database.
    """
    if method not in METHODS or status not in STATUSES:
        raise ValueError(f"unknown method {method!r} or status {status!r}")
    member = session.get(Member, member_id)
    if member is None or not is_expected(meeting, member):
        raise CheckinRefusedError("This person is not expected at this meeting.")
    if method in FACE_METHODS and status == "approved" and expects_nobody(meeting):
        raise CheckinRefusedError(NOBODY_BY_FACE)
    when = timing(device_time=device_time, clock_drift_s=clock_drift_s)
    check_open(meeting, when.occurred_at, accept_ended=accept_ended)
    if approved is not None:
        existing = approved(meeting.id, member_id)
    else:
        existing = approved_record(session, meeting_id=meeting.id, member_id=member_id)
    if existing is not None:
        return CheckinOutcome("already_checked_in", existing)
    record = AttendanceRecord(
        id=uuid.uuid4(),  # known before the insert, so a batched insert can wait
        meeting_id=meeting.id,
        member_id=member_id,
        method=method,
        status=status,
        similarity=similarity,
        margin=margin,
        kiosk_id=kiosk_id,
        device_time=device_time,
        server_time=when.server_time,
        clock_drift_flag=when.drift_flag,
        late=meeting.late_after is not None and when.occurred_at > meeting.late_after,
        created_by_id=created_by_id,
        review_reason=review_reason,
    )
    if approved is not None:
        session.add(record)
        return CheckinOutcome("recorded", record)
    if not _insert(session, record, savepoint=isolate_race):
        winner = approved_record(session, meeting_id=meeting.id, member_id=member_id)
        if winner is None:
            raise CheckinRefusedError("The check-in conflicts with another one; send it again.")
        return CheckinOutcome("already_checked_in", winner)
    return CheckinOutcome("recorded", record)


def _insert(session: Session, record: AttendanceRecord, *, savepoint: bool) -> bool:
    """Flush the record; False when the one-approved-record index refused it.

    On PostgreSQL the insert runs in a savepoint, so the refusal leaves the caller's
    transaction usable. pysqlite cannot nest transactions reliably (its RELEASE may
    commit the outer one), so there the IntegrityError propagates; SQLite runs one
    writer at a time, so the race is rare, and the caller's rollback-and-retry covers it.
    """
    if not savepoint or session.get_bind().dialect.name != "postgresql":
        session.add(record)
        session.flush()
        return True
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        return False
    return True


def announce(publish: EventPublisher | None, outcomes: list[CheckinOutcome]) -> None:
    """After commit: tell live listeners about each newly stored record."""
    if publish is None:
        return
    for outcome in outcomes:
        if outcome.result == "recorded":
            publish("attendance.recorded", outcome.record)
