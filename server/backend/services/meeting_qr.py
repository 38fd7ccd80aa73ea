"""The rotating meeting QR code and the single-use check-in tickets it yields.

The screen shows a code that rotates every `qr_rotation_seconds` and stays valid for
two rotations (so a code scanned just before it changed still works). Scanning a valid
code gives the phone a ticket for one check-in; a ticket used twice is a replay and
is refused, whichever replica sees it. Each ticket carries the head moves the phone is
asked for (`turn_sequence.draw`; none when the meeting's liveness policy is `never`),
drawn here so a phone cannot choose them.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from server.backend import lifecycle
from server.backend.core import public_url
from server.backend.core.context import Backend
from server.backend.core.security.qr import QrClaims
from server.backend.crud import meetings as crud
from server.backend.errors import AuthError, ConflictError
from server.backend.models import Meeting, utcnow
from server.backend.services import turn_sequence
from server.backend.services.throttle import Limit
from server.backend.services.turn_sequence import Move

TICKET_TTL = 10 * 60
# Scans per client address: a phone scans once or twice; phones behind one church Wi-Fi
# share an address, so this allows a queue of them, but not a harvest of tickets.
SCANS_PER_CLIENT = Limit(attempts=30, window_seconds=60)
SCANS_USED_UP = "This meeting's QR code has reached its maximum number of check-ins."


@dataclass(frozen=True)
class MeetingCode:
    token: str
    expires_at: datetime
    refresh_after_seconds: int


@dataclass(frozen=True)
class Ticket:
    ticket: str
    expires_at: datetime
    challenge: tuple[Move, ...] = ()


def ticket_key(ticket: str) -> str:
    return f"qr:ticket:{hashlib.sha256(ticket.encode()).hexdigest()}"


def _when(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _seconds_left(meeting: Meeting) -> int:
    return int((crud.qr_closes_at(meeting) - utcnow()).total_seconds())


def checkin_url(backend: Backend, token: str) -> str:
    """What the on-screen QR encodes: the phone check-in page at PUBLIC_URL, with the code."""
    return public_url.join(
        backend.settings.public_base_url, f"/checkin?{urlencode({'token': token})}"
    )


def current_code(backend: Backend, meeting: Meeting) -> MeetingCode:
    """A freshly signed code for an active meeting whose QR window is open."""
    if meeting.status != "active":
        raise ConflictError(lifecycle.refusal(meeting.status, "qr"))
    left = _seconds_left(meeting)
    if left <= 0:
        raise ConflictError(
            "The meeting's QR window has closed under its QR policy: change its ends_at "
            "or QR policy to take more check-ins, or end it."
        )
    lifetime = min(2 * meeting.qr_rotation_seconds, left)
    token, claims = backend.qr.sign(meeting.id, lifetime=lifetime)
    return MeetingCode(token, _when(claims.expires_at), meeting.qr_rotation_seconds)


def check_code(backend: Backend, session: Session, token: str) -> tuple[Meeting, QrClaims]:
    """The meeting behind an authentic, unexpired code whose meeting still takes scans."""
    claims = backend.qr.verify(token)
    meeting = session.get(Meeting, claims.meeting_id)
    if meeting is None or meeting.status != "active" or _seconds_left(meeting) <= 0:
        raise AuthError("This meeting is not taking check-ins now.")
    return meeting, claims


def scan(
    backend: Backend, session: Session, token: str, *, client_ip: str = ""
) -> tuple[Meeting, QrClaims, Ticket]:
    """Issue a single-use check-in ticket, at most SCANS_PER_CLIENT per client.

    The meeting's max-scans budget is only checked here; it is counted when a ticket
    is used (`redeem`), so tickets harvested and thrown away cost the meeting nothing.
    """
    backend.throttle.consume("qr-scan", client_ip, SCANS_PER_CLIENT)
    meeting, claims = check_code(backend, session, token)
    if not crud.scans_left(meeting):
        raise ConflictError(SCANS_USED_UP)
    ticket = secrets.token_urlsafe(24)
    ttl = min(TICKET_TTL, max(1, _seconds_left(meeting)))
    challenge = () if meeting.liveness == "never" else turn_sequence.draw()
    value = f"{meeting.id} {turn_sequence.encode(challenge)}".strip()
    backend.once.set(ticket_key(ticket), value, ttl=ttl)
    return meeting, claims, Ticket(ticket, _when(utcnow().timestamp() + ttl), challenge)


def _meeting_id(value: str) -> uuid.UUID:
    return uuid.UUID(value.split(" ", 1)[0])


def challenge_of(backend: Backend, ticket: str) -> tuple[Move, ...]:
    """The head moves drawn for a still-unused ticket (none when none were)."""
    value = backend.once.get(ticket_key(ticket)) or ""
    _, _, moves = value.partition(" ")
    return turn_sequence.decode(moves)


def redeem(backend: Backend, session: Session, ticket: str) -> uuid.UUID:
    """Use a ticket once, counting it against the meeting's max-scans budget.

    A second use (a replay) or an expired ticket is refused. The count is in `session`,
    so the caller commits it with the check-in it belongs to.
    """
    value = backend.once.take(ticket_key(ticket))
    if value is None:
        raise ConflictError("This check-in ticket was already used or has expired; scan again.")
    meeting = session.get(Meeting, _meeting_id(value))
    if meeting is None or not crud.count_scan(session=session, meeting=meeting):
        raise ConflictError(SCANS_USED_UP)
    return meeting.id


def peek(backend: Backend, ticket: str) -> uuid.UUID:
    """The meeting of a still-unused ticket, without using it (a check-in may be retried)."""
    meeting_id = backend.once.get(ticket_key(ticket))
    if meeting_id is None:
        raise ConflictError("This check-in ticket was already used or has expired; scan again.")
    return _meeting_id(meeting_id)
