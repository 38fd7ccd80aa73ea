"""Meetings (`/api/meetings`): schedule, life cycle, and the rotating QR code."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import AwareDatetime
from sqlalchemy.orm import Session

from server.backend.api.deps import BackendDep, ClientIp, CurrentAdmin, SessionDep
from server.backend.core import public_url
from server.backend.crud import audit
from server.backend.crud import meetings as crud
from server.backend.models import Admin, Meeting
from server.backend.schemas.resources import (
    MeetingCopy,
    MeetingCreate,
    MeetingPublic,
    MeetingQr,
    MeetingReopen,
    MeetingsPublic,
    MeetingStatus,
    MeetingUpdate,
    Message,
)
from server.backend.services import meeting_qr

router = APIRouter(prefix="/meetings", tags=["meetings"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Message}}
# Live events for kiosks and admin screens; Redis pub/sub reaches every replica.
MEETING_EVENTS = "events:meetings"
CONFLICT: dict[int | str, dict[str, Any]] = {**NOT_FOUND, 409: {"model": Message}}


def _audit(
    session: Session, actor: Admin, action: str, meeting: Meeting, ip: str, **details: object
) -> None:
    audit.record(
        session=session,
        actor=actor,
        action=action,
        target_type="meeting",
        target_id=meeting.id,
        details={k: str(v) for k, v in details.items()},
        client_ip=ip,
    )


@router.get("")
def list_meetings(
    *,
    session: SessionDep,
    _admin: CurrentAdmin,
    meeting_status: Annotated[MeetingStatus | None, Query(alias="status")] = None,
    starts_after: AwareDatetime | None = None,
    starts_before: AwareDatetime | None = None,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> MeetingsPublic:
    """Meetings, latest first, optionally by status and start time."""
    rows, count = crud.search(
        session=session,
        status=meeting_status,
        starts_after=starts_after,
        starts_before=starts_before,
        skip=skip,
        limit=limit,
    )
    return MeetingsPublic(data=[MeetingPublic.model_validate(m) for m in rows], count=count)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_meeting(
    body: MeetingCreate, session: SessionDep, actor: CurrentAdmin, ip: ClientIp
) -> MeetingPublic:
    meeting = crud.create(session=session, meeting_in=body, by=actor)
    _audit(session, actor, "meeting.create", meeting, ip, title=meeting.title)
    session.commit()
    return MeetingPublic.model_validate(meeting)


@router.get("/{meeting_id}", responses=NOT_FOUND)
def get_meeting(meeting_id: uuid.UUID, session: SessionDep, _admin: CurrentAdmin) -> MeetingPublic:
    return MeetingPublic.model_validate(crud.get(session=session, meeting_id=meeting_id))


@router.patch("/{meeting_id}", responses=CONFLICT)
def update_meeting(
    meeting_id: uuid.UUID,
    body: MeetingUpdate,
    session: SessionDep,
    actor: CurrentAdmin,
    ip: ClientIp,
) -> MeetingPublic:
    meeting = crud.get(session=session, meeting_id=meeting_id)
    changes = crud.update_meeting(session=session, meeting=meeting, meeting_in=body)
    _audit(session, actor, "meeting.update", meeting, ip, fields=",".join(sorted(changes)))
    session.commit()
    return MeetingPublic.model_validate(meeting)


def _transition(
    meeting_id: uuid.UUID,
    action: str,
    *,
    backend: BackendDep,
    session: SessionDep,
    actor: Admin,
    ip: str,
    ends_at: datetime | None = None,
) -> MeetingPublic:
    meeting = crud.get(session=session, meeting_id=meeting_id)
    crud.transition(session=session, meeting=meeting, action=action, ends_at=ends_at)
    _audit(session, actor, f"meeting.{action}", meeting, ip)
    session.commit()
    backend.events.publish(
        MEETING_EVENTS, json.dumps({"meeting_id": str(meeting.id), "status": meeting.status})
    )
    return MeetingPublic.model_validate(meeting)


@router.post("/{meeting_id}/start", responses=CONFLICT)
def start_meeting(
    meeting_id: uuid.UUID,
    backend: BackendDep,
    session: SessionDep,
    actor: CurrentAdmin,
    ip: ClientIp,
) -> MeetingPublic:
    return _transition(meeting_id, "start", backend=backend, session=session, actor=actor, ip=ip)


@router.post("/{meeting_id}/end", responses=CONFLICT)
def end_meeting(
    meeting_id: uuid.UUID,
    backend: BackendDep,
    session: SessionDep,
    actor: CurrentAdmin,
    ip: ClientIp,
) -> MeetingPublic:
    return _transition(meeting_id, "end", backend=backend, session=session, actor=actor, ip=ip)


@router.post("/{meeting_id}/cancel", responses=CONFLICT)
def cancel_meeting(
    meeting_id: uuid.UUID,
    backend: BackendDep,
    session: SessionDep,
    actor: CurrentAdmin,
    ip: ClientIp,
) -> MeetingPublic:
    return _transition(meeting_id, "cancel", backend=backend, session=session, actor=actor, ip=ip)


@router.post("/{meeting_id}/reopen", responses=CONFLICT)
def reopen_meeting(
    meeting_id: uuid.UUID,
    *,
    backend: BackendDep,
    session: SessionDep,
    actor: CurrentAdmin,
    ip: ClientIp,
    body: MeetingReopen | None = None,
) -> MeetingPublic:
    """Take check-ins again after the meeting was ended (with a later `ends_at` if needed)."""
    ends_at = body.ends_at if body else None
    return _transition(
        meeting_id, "reopen", backend=backend, session=session, actor=actor, ip=ip, ends_at=ends_at
    )


@router.post("/{meeting_id}/copy", status_code=status.HTTP_201_CREATED, responses=NOT_FOUND)
def copy_meeting(
    meeting_id: uuid.UUID,
    session: SessionDep,
    actor: CurrentAdmin,
    ip: ClientIp,
    body: MeetingCopy | None = None,
) -> MeetingPublic:
    """A new scheduled meeting with this one's place, people and QR policy (next week)."""
    source = crud.get(session=session, meeting_id=meeting_id)
    meeting = crud.copy(session=session, meeting=source, copy_in=body or MeetingCopy(), by=actor)
    _audit(session, actor, "meeting.copy", meeting, ip, copied_from=source.id)
    session.commit()
    return MeetingPublic.model_validate(meeting)


@router.get("/{meeting_id}/qr", responses=CONFLICT)
def meeting_qr_code(
    meeting_id: uuid.UUID,
    backend: BackendDep,
    session: SessionDep,
    _admin: CurrentAdmin,
) -> MeetingQr:
    """The current signed code to show on screen; fetch again after `refresh_after_seconds`.

    ``url`` is what the QR should encode: a phone's camera opens it as the check-in page.
    ``phone_camera`` says whether phones get the live camera there or record a video.
    """
    meeting = crud.get(session=session, meeting_id=meeting_id)
    code = meeting_qr.current_code(backend, meeting)
    camera, note = public_url.phone_camera(backend.settings.public_base_url)
    return MeetingQr(
        token=code.token,
        url=meeting_qr.checkin_url(backend, code.token),
        meeting_id=meeting.id,
        expires_at=code.expires_at,
        refresh_after_seconds=code.refresh_after_seconds,
        phone_camera=camera,
        phone_camera_note=note,
    )
