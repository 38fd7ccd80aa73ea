"""The review queue (`/api/reviews`): check-ins in the review band, awaiting a person.

Reviewers may see the evidence crop of a pending check-in; it is erased once decided.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from server.backend.api.deps import BackendDep, ClientIp, CurrentAdmin, SessionDep
from server.backend.models import Admin
from server.backend.schemas.resources import (
    AttendancePage,
    AttendancePublic,
    Message,
    ReviewDecision,
)
from server.backend.services import evidence, records, review
from server.backend.services.review import Decision

router = APIRouter(prefix="/reviews", tags=["review queue"])
CONFLICT: dict[int | str, dict[str, Any]] = {404: {"model": Message}, 409: {"model": Message}}


@router.get("")
def review_queue(
    *,
    session: SessionDep,
    _admin: CurrentAdmin,
    meeting_id: uuid.UUID | None = None,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AttendancePage:
    """Check-ins awaiting review, oldest first, of one meeting or all."""
    if evidence.purge_expired(session):
        session.commit()
    rows, count = records.search(
        session, meeting_id=meeting_id, status="pending_review", skip=skip, limit=limit
    )
    return AttendancePage(data=rows, count=count)


@router.get(
    "/{record_id}/evidence",
    responses={200: {"content": {"image/jpeg": {}}}, 404: {"model": Message}},
    response_class=Response,
)
def review_evidence(
    record_id: uuid.UUID, backend: BackendDep, session: SessionDep, _admin: CurrentAdmin
) -> Response:
    """The face crop kept for this check-in, if any (never cached by the browser)."""
    record = records.get(session, record_id)
    jpeg = evidence.read(evidence.EvidenceCipher.from_settings(backend.settings), record)
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


def _decide(
    record_id: uuid.UUID,
    decision: Decision,
    body: ReviewDecision | None,
    *,
    backend: BackendDep,
    session: SessionDep,
    actor: Admin,
    ip: str,
) -> AttendancePublic:
    record = review.decide(
        session,
        record_id=record_id,
        decision=decision,
        actor=actor,
        ip=ip,
        note=body.note if body else "",
        publish=records.record_publisher(backend.events),
    )
    return records.public(record)


@router.post("/{record_id}/approve", responses=CONFLICT)
def approve(
    record_id: uuid.UUID,
    *,
    backend: BackendDep,
    session: SessionDep,
    actor: CurrentAdmin,
    ip: ClientIp,
    body: ReviewDecision | None = None,
) -> AttendancePublic:
    """Confirm the check-in: the member counts as present."""
    return _decide(record_id, "approve", body, backend=backend, session=session, actor=actor, ip=ip)


@router.post("/{record_id}/reject", responses=CONFLICT)
def reject(
    record_id: uuid.UUID,
    *,
    backend: BackendDep,
    session: SessionDep,
    actor: CurrentAdmin,
    ip: ClientIp,
    body: ReviewDecision | None = None,
) -> AttendancePublic:
    """Refuse the check-in: it was not this member."""
    return _decide(record_id, "reject", body, backend=backend, session=session, actor=actor, ip=ip)
