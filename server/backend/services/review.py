"""Admin decisions on attendance: manual check-in, the review queue, deletion.

Each action is audited in the same transaction as the change, committed, and only then
announced to live listeners. A reviewed record loses its evidence crop at once; crops
past their retention period are purged whenever the queue is looked at or acted on.
"""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.backend.crud import audit
from server.backend.errors import ConflictError
from server.backend.models import Admin, AttendanceRecord, Meeting, utcnow
from server.backend.services import attendance, evidence, records
from server.backend.services.attendance import CheckinOutcome, EventPublisher

Decision = Literal["approve", "reject"]


def _audit(
    session: Session, actor: Admin, action: str, record: AttendanceRecord, ip: str, **details: str
) -> None:
    audit.record(
        session=session,
        actor=actor,
        action=action,
        target_type="attendance",
        target_id=record.id,
        details={"meeting_id": str(record.meeting_id), "member_id": str(record.member_id)}
        | details,
        client_ip=ip,
    )


def check_in_manually(
    session: Session,
    *,
    meeting: Meeting,
    member_id: uuid.UUID,
    actor: Admin,
    ip: str,
    note: str,
    publish: EventPublisher,
) -> CheckinOutcome:
    """Record an approved manual check-in; a member already in is answered, not stored twice."""
    outcome = attendance.record_checkin(
        session,
        meeting=meeting,
        member_id=member_id,
        method="manual",
        status="approved",
        created_by_id=actor.id,
    )
    if outcome.result == "recorded":
        _audit(session, actor, "attendance.manual", outcome.record, ip, note=note)
        session.commit()
        attendance.announce(publish, [outcome])
    return outcome


def decide(
    session: Session,
    *,
    record_id: uuid.UUID,
    decision: Decision,
    actor: Admin,
    ip: str,
    note: str,
    publish: EventPublisher,
) -> AttendanceRecord:
    """Approve or reject a record awaiting review; its evidence crop is erased either way."""
    evidence.purge_expired(session)
    record = records.get(session, record_id)
    if record.status != "pending_review":
        raise ConflictError(f"This check-in is {record.status}, not awaiting review.")
    if decision == "approve" and attendance.approved_record(
        session, meeting_id=record.meeting_id, member_id=record.member_id
    ):
        raise ConflictError("This member is already checked in to this meeting; reject this one.")
    record.status = "approved" if decision == "approve" else "rejected"
    record.reviewed_by_id, record.reviewed_at = actor.id, utcnow()
    evidence.erase(record)
    _audit(session, actor, f"attendance.{decision}", record, ip, note=note)
    try:
        session.commit()
    except IntegrityError as exc:  # another approval of this member won the race
        session.rollback()
        raise ConflictError("This member was checked in meanwhile; reject this one.") from exc
    publish("attendance.reviewed", record)
    return record


def delete(
    session: Session,
    *,
    record_id: uuid.UUID,
    actor: Admin,
    ip: str,
    publish: EventPublisher,
) -> None:
    """Delete a record (a mistaken check-in); the audit entry keeps what it was."""
    record = records.get(session, record_id)
    _audit(
        session, actor, "attendance.delete", record, ip, status=record.status, method=record.method
    )
    session.delete(record)
    session.commit()
    # Sessions keep loaded values after commit, so the deleted record can still be described.
    publish("attendance.deleted", record)
