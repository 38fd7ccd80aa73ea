"""Refused and suspicious check-in attempts, phone and kiosk, kept for admins.

A wrong face on a phone is refused with a friendly message; the person attempting it
must not learn more, but admins must be able to see it happened. Each attempt is
written in the transaction of the request that refused it, listed at `/api/attempts`
and published on the meeting's live stream as an `attempt.recorded` event after commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.backend.kv.store import KeyValueStore
from server.backend.models import CheckinAttempt, Member
from server.backend.schemas.attempts import AttemptChannel, AttemptOutcome, AttemptPublic
from server.backend.services import live_events

REASON_MAX = 300


@dataclass(frozen=True)
class AttemptFilter:
    meeting_id: uuid.UUID | None = None
    channel: AttemptChannel | None = None
    outcome: AttemptOutcome | None = None


def record(
    session: Session,
    *,
    meeting_id: uuid.UUID,
    channel: AttemptChannel,
    outcome: AttemptOutcome,
    reason: str,
    member_id: uuid.UUID | None = None,
    similarity: float | None = None,
    kiosk_id: uuid.UUID | None = None,
    client_ip: str = "",
    location_flag: str = "",
) -> CheckinAttempt:
    """Add the attempt to the session; the caller commits it with the rest of its work."""
    attempt = CheckinAttempt(
        meeting_id=meeting_id,
        member_id=member_id,
        channel=channel,
        outcome=outcome,
        reason=reason[:REASON_MAX],
        similarity=similarity,
        kiosk_id=kiosk_id,
        client_ip=client_ip[:64],
        location_flag=location_flag,
    )
    session.add(attempt)
    session.flush()
    return attempt


def public(attempt: CheckinAttempt, member: Member | None) -> AttemptPublic:
    view = AttemptPublic.model_validate(attempt)
    view.member_name = member.full_name if member else ""
    return view


def announce(store: KeyValueStore, session: Session, attempt: CheckinAttempt) -> None:
    """After commit: put the attempt on its meeting's live stream, with the member's name."""
    member = session.get(Member, attempt.member_id) if attempt.member_id else None
    live_events.publish(
        store,
        event_type="attempt.recorded",
        meeting_id=attempt.meeting_id,
        record=public(attempt, member).model_dump(mode="json"),
    )


def search(
    session: Session, where: AttemptFilter, *, skip: int = 0, limit: int = 100
) -> tuple[list[AttemptPublic], int]:
    """Attempts, newest first, with member names; and the total count."""
    query = select(CheckinAttempt, Member).outerjoin(Member, Member.id == CheckinAttempt.member_id)
    if where.meeting_id is not None:
        query = query.where(CheckinAttempt.meeting_id == where.meeting_id)
    if where.channel is not None:
        query = query.where(CheckinAttempt.channel == where.channel)
    if where.outcome is not None:
        query = query.where(CheckinAttempt.outcome == where.outcome)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordered = query.order_by(CheckinAttempt.at.desc(), CheckinAttempt.id)
    rows = session.execute(ordered.offset(skip).limit(limit)).all()
    return [public(attempt, member) for attempt, member in rows], count
