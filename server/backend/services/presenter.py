"""The presenter view of a meeting: what a projector or TV shows while people arrive.

The meeting's title and place, how many are present of how many expected, and, while
phone check-in is open, the rotating QR code as an SVG drawn here (the page loads
nothing from elsewhere). The page fetches again after `refresh_after_seconds`, which
is always before the code on screen expires.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy.orm import Session

from server.backend.core.context import Backend
from server.backend.core.security.display import DisplaySigner
from server.backend.errors import ConflictError
from server.backend.models import Meeting, utcnow
from server.backend.services import badge_images, meeting_qr, reports

# With no code on screen (meeting not started, or over) the page checks this often.
IDLE_REFRESH_SECONDS = 15
# A display link outlives the meeting's scheduled end by this much (late finishes)...
DISPLAY_GRACE = timedelta(hours=12)
# ...but never lives longer than this from when it was made: a meeting a year away once
# got a 365-day link (issue 25). Make the link on the day; a new one is one click.
DISPLAY_MAX_LIFE = timedelta(hours=24)


class PresenterQr(BaseModel):
    url: str
    svg: str
    expires_at: datetime


class PresenterView(BaseModel):
    meeting_id: uuid.UUID
    title: str
    location_name: str
    status: str
    present: int
    expected: int
    message: str
    qr: PresenterQr | None
    refresh_after_seconds: int


def signer(backend: Backend) -> DisplaySigner:
    settings = backend.settings
    return DisplaySigner(settings.qr_secret or "", previous=settings.previous_qr_secrets())


def display_expiry(meeting: Meeting) -> datetime:
    """A display link made now lasts until the meeting's end plus grace, a day at most."""
    return min(meeting.ends_at + DISPLAY_GRACE, utcnow() + DISPLAY_MAX_LIFE)


def display_url(backend: Backend, meeting: Meeting, link_id: uuid.UUID, expires: datetime) -> str:
    """The presenter-page link for this meeting only; the key rides in the fragment,
    which browsers never send to a server, so it stays out of logs and referrers."""
    key = signer(backend).sign(meeting.id, expires_at=int(expires.timestamp()), link_id=link_id)
    base = backend.settings.public_base_url
    return f"{base}/present?meeting={meeting.id}#key={key}"


def view(backend: Backend, session: Session, meeting: Meeting) -> PresenterView:
    report = reports.meeting_report(session, meeting_id=meeting.id)
    try:
        code = meeting_qr.current_code(backend, meeting)
    except ConflictError as exc:
        message, qr, refresh = exc.message, None, IDLE_REFRESH_SECONDS
    else:
        url = meeting_qr.checkin_url(backend, code.token)
        qr = PresenterQr(url=url, svg=badge_images.svg(url), expires_at=code.expires_at)
        message, refresh = (
            "Scan the code with your phone's camera to check in.",
            code.refresh_after_seconds,
        )
    return PresenterView(
        meeting_id=meeting.id,
        title=meeting.title,
        location_name=meeting.location_name,
        status=meeting.status,
        present=report.present,
        expected=report.expected,
        message=message,
        qr=qr,
        refresh_after_seconds=refresh,
    )
