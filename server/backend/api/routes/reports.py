"""Reports (`/api/reports`): overview, a meeting's register, a member's history, trends,
and CSV/XLSX exports of a meeting's register and absent list."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime

from server.backend.api.deps import BackendDep, ClientIp, CurrentAdmin, SessionDep
from server.backend.crud import audit
from server.backend.schemas.reports import (
    AbsenteeMessage,
    AbsenteesMessaged,
    MeetingReport,
    MemberHistory,
    Overview,
    Period,
    Trends,
)
from server.backend.schemas.resources import NO_NUL, Message
from server.backend.services import absentees, exports, reports

router = APIRouter(prefix="/reports", tags=["reports"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Message}}
Since = Annotated[AwareDatetime | None, Query(description="meetings starting at or after")]
Until = Annotated[AwareDatetime | None, Query(description="meetings starting before")]


@router.get("/overview")
def overview(
    session: SessionDep, _admin: CurrentAdmin, since: Since = None, until: Until = None
) -> Overview:
    return reports.overview(session, since=since, until=until)


@router.get("/trends")
def trends(
    session: SessionDep,
    _admin: CurrentAdmin,
    period: Period = "month",
    since: Since = None,
    until: Until = None,
    ministry: Annotated[
        str | None, Query(max_length=120, pattern=NO_NUL, description="count only its people")
    ] = None,
) -> Trends:
    """Attendance per week or month of meetings that took attendance (of one ministry's
    people, and the meetings that expected them, when `ministry` is given)."""
    return reports.trends(session, period=period, since=since, until=until, ministry=ministry)


@router.get("/meetings/{meeting_id}", responses=NOT_FOUND)
def meeting_report(
    meeting_id: uuid.UUID, session: SessionDep, _admin: CurrentAdmin
) -> MeetingReport:
    """Expected, present, late, pending and absent people of one meeting."""
    return reports.meeting_report(session, meeting_id=meeting_id)


@router.post(
    "/meetings/{meeting_id}/absentees/message",
    responses={**NOT_FOUND, 409: {"model": Message}},
)
def message_absentees(
    meeting_id: uuid.UUID,
    body: AbsenteeMessage,
    *,
    backend: BackendDep,
    session: SessionDep,
    actor: CurrentAdmin,
    ip: ClientIp,
) -> AbsenteesMessaged:
    """Email the absent members who have an email and were not emailed about this
    meeting before (409 when email is not set up); each message is audited."""
    return absentees.message_absentees(
        backend, session, meeting_id=meeting_id, text=body.text, actor=actor, client_ip=ip
    )


@router.get("/members/{member_id}", responses=NOT_FOUND)
def member_history(
    member_id: uuid.UUID,
    session: SessionDep,
    _admin: CurrentAdmin,
    since: Since = None,
    until: Until = None,
) -> MemberHistory:
    """The member's presence at every meeting that expected them."""
    return reports.member_history(session, member_id=member_id, since=since, until=until)


@router.get(
    "/meetings/{meeting_id}/export",
    responses={
        200: {"content": {media: {} for media in exports.MEDIA_TYPES.values()}},
        **NOT_FOUND,
    },
    response_class=Response,
)
def export_meeting(
    meeting_id: uuid.UUID,
    *,
    backend: BackendDep,
    session: SessionDep,
    actor: CurrentAdmin,
    ip: ClientIp,
    which: Annotated[exports.ExportList, Query(alias="list")] = "attendance",
    fmt: Annotated[exports.ExportFormat, Query(alias="format")] = "csv",
) -> Response:
    """Download the register (`list=attendance`) or the absent list as CSV or XLSX."""
    report = reports.meeting_report(session, meeting_id=meeting_id)
    content, filename = exports.export(report, which, fmt, backend.settings.zone)
    # Exports carry personal data out of the system: who took which list is audited.
    audit.record(
        session=session,
        actor=actor,
        action="report.export",
        target_type="meeting",
        target_id=meeting_id,
        details={"list": which, "format": fmt},
        client_ip=ip,
    )
    session.commit()
    return Response(
        content,
        media_type=exports.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
