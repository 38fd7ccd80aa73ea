"""Display links as rows: made, checked on every use, listed and revoked one by one.

A link's key is signed (`security.display`) and names its row; the row is read on each
request the screen makes, so a revoked link is refused on the screen's next fetch. Its
last use is written at most once a minute, since a screen fetches every few seconds.
Keys made before links had rows name none and are refused: they lived a day at most.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.backend.core.context import Backend
from server.backend.core.security.display import REFUSAL
from server.backend.errors import AuthError, NotFoundError
from server.backend.models import Admin, DisplayLink, Meeting, utcnow
from server.backend.services import presenter

LAST_USED_EVERY = timedelta(minutes=1)
REVOKED = "This display link was revoked by an admin; ask an admin for a new one."


class DisplayLinkMade(BaseModel):
    id: uuid.UUID
    url: str
    expires_at: datetime


class DisplayLinkPublic(BaseModel):
    """One live link, as admins list it (the key itself is never shown again)."""

    id: uuid.UUID
    meeting_id: uuid.UUID
    meeting_title: str
    created_at: datetime
    created_by: str | None
    expires_at: datetime
    last_used_at: datetime | None


def make(backend: Backend, session: Session, meeting: Meeting, actor: Admin) -> DisplayLinkMade:
    """A new link for `meeting`, its row added to the caller's transaction."""
    link = DisplayLink(
        id=uuid.uuid4(),
        meeting_id=meeting.id,
        created_by_id=actor.id,
        expires_at=presenter.display_expiry(meeting),
    )
    session.add(link)
    url = presenter.display_url(backend, meeting, link.id, link.expires_at)
    return DisplayLinkMade(id=link.id, url=url, expires_at=link.expires_at)


def check(backend: Backend, session: Session, key: str, *, meeting_id: uuid.UUID) -> None:
    """Let the request through only for a live, unrevoked link of this meeting."""
    claims = presenter.signer(backend).verify(key, meeting_id=meeting_id)
    link = session.get(DisplayLink, claims.link_id) if claims.link_id is not None else None
    if link is None or link.meeting_id != meeting_id:
        raise AuthError(REFUSAL)
    if link.revoked_at is not None:
        raise AuthError(REVOKED)
    now = utcnow()
    if link.last_used_at is None or now - link.last_used_at >= LAST_USED_EVERY:
        link.last_used_at = now
        session.commit()


def live(session: Session, *, meeting_id: uuid.UUID | None = None) -> list[DisplayLinkPublic]:
    """Links not revoked and not expired, newest first (one meeting's, or all)."""
    query = (
        select(DisplayLink, Meeting.title, Admin.email)
        .join(Meeting, Meeting.id == DisplayLink.meeting_id)
        .outerjoin(Admin, Admin.id == DisplayLink.created_by_id)
        .where(DisplayLink.revoked_at.is_(None), DisplayLink.expires_at > utcnow())
        .order_by(DisplayLink.created_at.desc())
    )
    if meeting_id is not None:
        query = query.where(DisplayLink.meeting_id == meeting_id)
    return [
        DisplayLinkPublic(
            id=link.id,
            meeting_id=link.meeting_id,
            meeting_title=title,
            created_at=link.created_at,
            created_by=email,
            expires_at=link.expires_at,
            last_used_at=link.last_used_at,
        )
        for link, title, email in session.execute(query).all()
    ]


def revoke(session: Session, link_id: uuid.UUID) -> DisplayLink:
    """Revoke one link (again is fine); the caller commits."""
    link = session.get(DisplayLink, link_id)
    if link is None:
        raise NotFoundError("No such display link.")
    if link.revoked_at is None:
        link.revoked_at = utcnow()
    return link
