"""Attendance records (`/api/attendance`): a meeting's list, manual check-in, deletion.

Manual check-ins and deletions are admin actions: audited, then announced live.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from server.backend.api.deps import BackendDep, ClientIp, CurrentAdmin, SessionDep
from server.backend.crud import meetings as meetings_crud
from server.backend.schemas.resources import (
    AttendancePage,
    AttendanceStatus,
    CheckinResult,
    ManualCheckinCreate,
    Message,
)
from server.backend.services import records, review

router = APIRouter(prefix="/attendance", tags=["attendance"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Message}}
CONFLICT: dict[int | str, dict[str, Any]] = {**NOT_FOUND, 409: {"model": Message}}


@router.get("")
def list_attendance(
    *,
    session: SessionDep,
    _admin: CurrentAdmin,
    meeting_id: uuid.UUID | None = None,
    record_status: Annotated[AttendanceStatus | None, Query(alias="status")] = None,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AttendancePage:
    """Check-ins in the order they arrived, optionally of one meeting and one status."""
    rows, count = records.search(
        session, meeting_id=meeting_id, status=record_status, skip=skip, limit=limit
    )
    return AttendancePage(data=rows, count=count)


@router.post(
    "/meetings/{meeting_id}/manual",
    responses={200: {"model": CheckinResult}, **CONFLICT},
    status_code=status.HTTP_201_CREATED,
)
def manual_checkin(
    meeting_id: uuid.UUID,
    body: ManualCheckinCreate,
    response: Response,
    *,
    backend: BackendDep,
    session: SessionDep,
    actor: CurrentAdmin,
    ip: ClientIp,
) -> CheckinResult:
    """Check a member in by hand (approved at once); 200 when they were already in."""
    meeting = meetings_crud.get(session=session, meeting_id=meeting_id)
    outcome = review.check_in_manually(
        session,
        meeting=meeting,
        member_id=body.member_id,
        actor=actor,
        ip=ip,
        note=body.note,
        publish=records.record_publisher(backend.events),
    )
    if outcome.result == "already_checked_in":
        response.status_code = status.HTTP_200_OK
    return CheckinResult(result=outcome.result, record=records.public(outcome.record))


@router.delete("/{record_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
def delete_attendance(
    record_id: uuid.UUID,
    backend: BackendDep,
    session: SessionDep,
    actor: CurrentAdmin,
    ip: ClientIp,
) -> None:
    """Delete a check-in recorded by mistake."""
    review.delete(
        session,
        record_id=record_id,
        actor=actor,
        ip=ip,
        publish=records.record_publisher(backend.events),
    )
