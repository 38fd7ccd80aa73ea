"""Public endpoints for a scanned meeting code (`/api/qr`), used by the phone check-in page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from server.backend.api.deps import BackendDep, ClientIp, SessionDep
from server.backend.core.security.qr import QrClaims
from server.backend.models import Meeting
from server.backend.schemas.resources import (
    Message,
    QrInfo,
    QrRedeemed,
    QrTicket,
    QrTicketRequest,
    QrToken,
)
from server.backend.services import meeting_qr

router = APIRouter(prefix="/qr", tags=["qr"])
REFUSED: dict[int | str, dict[str, Any]] = {401: {"model": Message}, 409: {"model": Message}}


def _info(meeting: Meeting, claims: QrClaims) -> dict[str, Any]:
    return {
        "meeting_id": meeting.id,
        "title": meeting.title,
        "location_name": meeting.location_name,
        "latitude": meeting.latitude,
        "longitude": meeting.longitude,
        "radius_m": meeting.radius_m,
        "starts_at": meeting.starts_at,
        "ends_at": meeting.ends_at,
        "late_after": meeting.late_after,
        "code_expires_at": datetime.fromtimestamp(claims.expires_at, UTC),
    }


@router.post("/validate", responses=REFUSED)
def validate(body: QrToken, backend: BackendDep, session: SessionDep) -> QrInfo:
    """Check a scanned code and describe its meeting, without using it."""
    meeting, claims = meeting_qr.check_code(backend, session, body.token)
    return QrInfo(**_info(meeting, claims))


@router.post("/scan", responses={**REFUSED, 429: {"model": Message}})
def scan(body: QrToken, backend: BackendDep, session: SessionDep, ip: ClientIp) -> QrTicket:
    """Get a single-use check-in ticket (a few per client and minute)."""
    meeting, claims, ticket = meeting_qr.scan(backend, session, body.token, client_ip=ip)
    return QrTicket(
        **_info(meeting, claims),
        ticket=ticket.ticket,
        ticket_expires_at=ticket.expires_at,
        challenge=ticket.challenge[0].value if ticket.challenge else None,
        moves=[move.value for move in ticket.challenge],
    )


@router.post("/redeem", responses=REFUSED)
def redeem(body: QrTicketRequest, backend: BackendDep, session: SessionDep) -> QrRedeemed:
    """Use a check-in ticket; it works once, so a replayed ticket is refused."""
    meeting_id = meeting_qr.redeem(backend, session, body.ticket)
    session.commit()  # the ticket counts against the meeting's max-scans budget
    return QrRedeemed(meeting_id=meeting_id)
