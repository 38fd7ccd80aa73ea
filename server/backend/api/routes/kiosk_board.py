"""What a paired kiosk shows on its idle screen (`/api/kiosk/meetings/{id}/board`).

The meeting's title and counts, and, while it is active with its QR window open, the
current rotating phone check-in code. Kiosks cannot use the admin endpoints, so this
is their one read of a meeting's progress; it needs a kiosk credential, and a meeting
that lists the kiosks serving it shows its board only to them (as check-ins are scoped):
another kiosk gets the same 404 as for a meeting that does not exist.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel

from server.backend.api.deps import BackendDep, SessionDep
from server.backend.api.kiosk_deps import CurrentKiosk
from server.backend.crud import meetings as crud
from server.backend.errors import ConflictError, NotFoundError
from server.backend.schemas.resources import MeetingQr, Message
from server.backend.services import meeting_qr, reports

router = APIRouter(prefix="/kiosk", tags=["kiosk"])


class KioskBoard(BaseModel):
    """`qr` is null when phone check-in is shut (meeting not active, QR window closed)."""

    meeting_id: uuid.UUID
    title: str
    status: str
    present: int  # approved check-ins, on time or late (pending reviews are not counted)
    expected: int
    qr: MeetingQr | None


@router.get("/meetings/{meeting_id}/board", responses={401: {"model": Message}, 404: {}})
def meeting_board(
    meeting_id: uuid.UUID,
    backend: BackendDep,
    session: SessionDep,
    kiosk: CurrentKiosk,
) -> KioskBoard:
    """Fetch again after `qr.refresh_after_seconds` (or a minute without a QR)."""
    meeting = crud.get(session=session, meeting_id=meeting_id)
    if meeting.kiosk_ids and str(kiosk.id) not in meeting.kiosk_ids:
        raise NotFoundError("No such meeting.")
    report = reports.meeting_report(session, meeting_id=meeting_id)
    qr = None
    try:
        code = meeting_qr.current_code(backend, meeting)
    except ConflictError:
        code = None  # not active, or its QR window has closed: no phone check-in now
    if code is not None:
        qr = MeetingQr(
            token=code.token,
            url=meeting_qr.checkin_url(backend, code.token),
            meeting_id=meeting.id,
            expires_at=code.expires_at,
            refresh_after_seconds=code.refresh_after_seconds,
        )
    return KioskBoard(
        meeting_id=meeting.id,
        title=meeting.title,
        status=meeting.status,
        present=report.present,
        expected=report.expected,
        qr=qr,
    )
