"""The presenter screen of a meeting: display links for it (made, listed, revoked), the
view the page polls, and the page itself (`/present?meeting=ID`, `#key=...` for a link).

The view is open to a signed-in admin (`Authorization: Bearer`) or to the key of a live,
unrevoked display link for that very meeting (`X-Display-Key`); the key opens nothing else.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import FileResponse

from server.backend.api.deps import BackendDep, ClientIp, CurrentAdmin, SessionDep
from server.backend.api.routes.pages import static_file
from server.backend.crud import audit
from server.backend.crud import meetings as meetings_crud
from server.backend.errors import AuthError
from server.backend.schemas.resources import Message
from server.backend.services import accounts, display_links, presenter

router = APIRouter(tags=["presenter"])
page_router = APIRouter(include_in_schema=False)
REFUSED: dict[int | str, dict[str, Any]] = {401: {"model": Message}, 404: {"model": Message}}


@router.post("/meetings/{meeting_id}/display-link", responses=REFUSED)
def create_display_link(
    meeting_id: uuid.UUID,
    backend: BackendDep,
    session: SessionDep,
    actor: CurrentAdmin,
    ip: ClientIp,
) -> display_links.DisplayLinkMade:
    """A link that opens this meeting's presenter page on a screen nobody signs in on."""
    meeting = meetings_crud.get(session=session, meeting_id=meeting_id)
    link = display_links.make(backend, session, meeting, actor)
    audit.record(
        session=session,
        actor=actor,
        action="meeting.display_link",
        target_type="meeting",
        target_id=meeting.id,
        client_ip=ip,
    )
    session.commit()
    return link


@router.get("/display-links", responses=REFUSED)
def list_display_links(
    session: SessionDep, _actor: CurrentAdmin, meeting_id: uuid.UUID | None = None
) -> list[display_links.DisplayLinkPublic]:
    """Display links still working (not revoked, not expired): meeting, made, expires,
    last used; one meeting's with `meeting_id`."""
    return display_links.live(session, meeting_id=meeting_id)


@router.delete("/display-links/{link_id}", status_code=204, responses=REFUSED)
def revoke_display_link(
    link_id: uuid.UUID, session: SessionDep, actor: CurrentAdmin, ip: ClientIp
) -> None:
    """Revoke one display link: its screen is refused on its next fetch, others go on."""
    link = display_links.revoke(session, link_id)
    audit.record(
        session=session,
        actor=actor,
        action="meeting.display_link_revoked",
        target_type="meeting",
        target_id=link.meeting_id,
        client_ip=ip,
    )
    session.commit()


@router.get("/present/{meeting_id}", responses=REFUSED)
def presenter_view(
    meeting_id: uuid.UUID,
    backend: BackendDep,
    session: SessionDep,
    authorization: Annotated[str | None, Header(max_length=4096)] = None,
    x_display_key: Annotated[str | None, Header(max_length=1024)] = None,
) -> presenter.PresenterView:
    """Title, count present, and the current QR code; fetch again after `refresh_after_seconds`."""
    if x_display_key:
        display_links.check(backend, session, x_display_key, meeting_id=meeting_id)
    elif authorization and authorization.lower().startswith("bearer "):
        accounts.authenticate(backend, session, authorization[7:].strip())
    else:
        raise AuthError("Open this page from a display link, or sign in as an admin.")
    meeting = meetings_crud.get(session=session, meeting_id=meeting_id)
    return presenter.view(backend, session, meeting)


@page_router.get("/present")
async def presenter_page() -> FileResponse:
    """The presenter page for a projector or TV."""
    return static_file("present.html")
