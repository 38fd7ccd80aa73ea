"""Member badges (`/api/members/{id}/badges`, `/api/badges/sheet`): issue, revoke, print.

Issuing a badge revokes the member's previous one (a reissue). Kiosks verify badges
offline with the public keys from `/api/kiosk/badge-keys` and refuse revoked ones
after their next gallery sync. Every change is audited.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, StringConstraints
from sqlalchemy.orm import Session

from server.backend.api.deps import ClientIp, CurrentAdmin, SessionDep
from server.backend.api.kiosk_deps import BadgeSignerDep
from server.backend.core.security.badges import BadgeSigner
from server.backend.crud import audit
from server.backend.crud import members as members_crud
from server.backend.models import Admin, Badge
from server.backend.schemas.kiosk import BadgePublic
from server.backend.schemas.resources import NO_NUL, Message
from server.backend.services import badge_images, badges

router = APIRouter(tags=["badges"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Message}}
MAX_SHEET = 300


def _public(signer: BadgeSigner, badge: Badge) -> BadgePublic:
    working = badge.revoked_at is None
    return BadgePublic(
        id=badge.id,
        member_id=badge.member_id,
        issued_at=badge.issued_at,
        revoked_at=badge.revoked_at,
        token=badges.token_for(signer, badge) if working else None,
    )


def _audit(
    session: Session, actor: Admin, action: str, badge: Badge, ip: str, **extra: int
) -> None:
    audit.record(
        session=session,
        actor=actor,
        action=action,
        target_type="member",
        target_id=badge.member_id,
        details={"badge_id": str(badge.id), **extra},
        client_ip=ip,
    )


@router.post(
    "/members/{member_id}/badges", status_code=status.HTTP_201_CREATED, responses=NOT_FOUND
)
def issue_badge(
    member_id: uuid.UUID,
    session: SessionDep,
    actor: CurrentAdmin,
    signer: BadgeSignerDep,
    ip: ClientIp,
) -> BadgePublic:
    """Issue a badge; the member's previous badge, if any, stops working (a reissue)."""
    member = members_crud.get(session=session, member_id=member_id)
    badge, revoked = badges.issue(session, member=member, by=actor)
    action = "badge.reissue" if revoked else "badge.issue"
    _audit(session, actor, action, badge, ip, revoked_previous=revoked)
    session.commit()
    return _public(signer, badge)


class BadgeBatch(BaseModel):
    """Issue for a whole ministry, or (no ministry) for every active member."""

    ministry: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=120, pattern=NO_NUL)]
        | None
    ) = None
    reissue: bool = False  # also replace working badges (they stop working)


class BadgeBatchResult(BaseModel):
    issued: int
    skipped: int  # already had a working badge
    sheet: str  # the printable page of these badges


@router.post("/badges/issue", status_code=status.HTTP_201_CREATED)
def issue_badges(
    body: BadgeBatch, session: SessionDep, actor: CurrentAdmin, ip: ClientIp
) -> BadgeBatchResult:
    """Badges for a whole ministry or every active member, in one call."""
    issued, skipped = badges.issue_many(
        session, ministry=body.ministry, reissue=body.reissue, by=actor, limit=MAX_SHEET * 20
    )
    audit.record(
        session=session,
        actor=actor,
        action="badge.issue_many",
        target_type="member",
        details={"ministry": body.ministry or "", "issued": issued, "skipped": skipped},
        client_ip=ip,
    )
    session.commit()
    sheet = "/api/badges/sheet" + (
        f"?{urlencode({'ministry': body.ministry})}" if body.ministry else ""
    )
    return BadgeBatchResult(issued=issued, skipped=skipped, sheet=sheet)


@router.get("/members/{member_id}/badges", responses=NOT_FOUND)
def list_badges(
    member_id: uuid.UUID, session: SessionDep, _admin: CurrentAdmin, signer: BadgeSignerDep
) -> list[BadgePublic]:
    """The member's badges, newest first; only the working one carries its token."""
    members_crud.get(session=session, member_id=member_id)
    return [_public(signer, b) for b in badges.list_for_member(session, member_id=member_id)]


@router.post("/members/{member_id}/badges/{badge_id}/revoke", responses=NOT_FOUND)
def revoke_badge(
    member_id: uuid.UUID,
    badge_id: uuid.UUID,
    *,
    session: SessionDep,
    actor: CurrentAdmin,
    signer: BadgeSignerDep,
    ip: ClientIp,
) -> BadgePublic:
    """Revoke for good: the server refuses it at once, kiosks after their next sync."""
    badge = badges.get(session, member_id=member_id, badge_id=badge_id)
    if badges.revoke(session, badge):
        _audit(session, actor, "badge.revoke", badge, ip)
        session.commit()
    return _public(signer, badge)


@router.get(
    "/members/{member_id}/badge.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **NOT_FOUND},
)
def badge_png(
    member_id: uuid.UUID, session: SessionDep, _admin: CurrentAdmin, signer: BadgeSignerDep
) -> Response:
    """The QR code of the member's working badge, as a PNG."""
    badge = badges.current(session, member_id=member_id)
    return Response(badge_images.png(badges.token_for(signer, badge)), media_type="image/png")


@router.get(
    "/members/{member_id}/badge.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}, **NOT_FOUND},
)
def badge_svg(
    member_id: uuid.UUID, session: SessionDep, _admin: CurrentAdmin, signer: BadgeSignerDep
) -> Response:
    """The QR code of the member's working badge, as an SVG."""
    badge = badges.current(session, member_id=member_id)
    return Response(badge_images.svg(badges.token_for(signer, badge)), media_type="image/svg+xml")


@router.get("/badges/sheet", response_class=HTMLResponse)
def badge_sheet(
    session: SessionDep,
    _admin: CurrentAdmin,
    signer: BadgeSignerDep,
    member_id: Annotated[list[uuid.UUID], Query(max_length=MAX_SHEET)] = [],  # noqa: B006
    ministry: Annotated[str | None, Query(max_length=120, pattern=NO_NUL)] = None,
) -> HTMLResponse:
    """A printable page of working badges with names: chosen members, or a ministry."""
    rows = badges.working_badges(session, member_ids=member_id, ministry=ministry, limit=MAX_SHEET)
    entries = [
        badge_images.SheetEntry(m.full_name, m.ministry, badges.token_for(signer, b), m.member_code)
        for b, m in rows
    ]
    title = f"Sonta badges - {ministry}" if ministry else "Sonta badges"
    return HTMLResponse(badge_images.sheet(entries, title=title))
