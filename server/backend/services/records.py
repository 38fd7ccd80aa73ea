"""Attendance records as admins see them: listing with names, the live-event publisher.

Every path that changes a record (kiosk upload, phone, manual, review, deletion) hands
the committed record to the publisher from `record_publisher`, so admin screens on any
replica see the same change.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, object_session

from server.backend.errors import NotFoundError
from server.backend.models import AttendanceRecord, Member
from server.backend.schemas.resources import AttendanceEntry, AttendancePublic, AttendanceStatus
from server.backend.services import live_events
from server.backend.services.attendance import EventPublisher
from server.backend.services.event_relay import Publisher


def public(record: AttendanceRecord) -> AttendancePublic:
    """The record's public fields; the evidence crop is only flagged, never included."""
    view = AttendancePublic.model_validate(record)
    view.has_evidence = record.evidence_ciphertext is not None
    return view


def entry(record: AttendanceRecord, member: Member) -> AttendanceEntry:
    return AttendanceEntry(
        **public(record).model_dump(), member_name=member.full_name, ministry=member.ministry
    )


def _named(record: AttendanceRecord) -> AttendancePublic:
    """The record with its member's name and ministry, so a live screen can show who."""
    session = object_session(record)
    member = session.get(Member, record.member_id) if session is not None else None
    return entry(record, member) if member is not None else public(record)


def record_publisher(publisher: Publisher) -> EventPublisher:
    """A publisher for `attendance.announce` and the review paths: call it after commit."""

    def publish_record(event_type: str, record: AttendanceRecord) -> None:
        if event_type not in live_events.EVENT_TYPES:
            raise ValueError(f"unknown live event type {event_type!r}")
        live_events.publish(
            publisher,
            event_type=event_type,
            meeting_id=record.meeting_id,
            record=_named(record).model_dump(mode="json"),
        )

    return publish_record


def get(session: Session, record_id: uuid.UUID) -> AttendanceRecord:
    record = session.get(AttendanceRecord, record_id)
    if record is None:
        raise NotFoundError("No such attendance record.")
    return record


def _query(
    meeting_id: uuid.UUID | None, status: AttendanceStatus | None
) -> Select[AttendanceRecord, Member]:
    query = select(AttendanceRecord, Member).join(Member, Member.id == AttendanceRecord.member_id)
    if meeting_id is not None:
        query = query.where(AttendanceRecord.meeting_id == meeting_id)
    if status is not None:
        query = query.where(AttendanceRecord.status == status)
    return query


def search(
    session: Session,
    *,
    meeting_id: uuid.UUID | None = None,
    status: AttendanceStatus | None = None,
    skip: int = 0,
    limit: int = 100,
) -> tuple[list[AttendanceEntry], int]:
    """Records, oldest check-in first, with their member's name; and the total count."""
    query = _query(meeting_id, status)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordered = query.order_by(AttendanceRecord.server_time, AttendanceRecord.id)
    rows = session.execute(ordered.offset(skip).limit(limit)).all()
    return [entry(record, member) for record, member in rows], count
