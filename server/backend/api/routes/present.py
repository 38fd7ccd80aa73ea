"""The presenter screen of a meeting: a display link for it, the view the page polls,
and the page itself (`/present?meeting=ID`, with `#key=...` for a display link).

The view is open to a signed-in admin (`Authorization: Bearer`) or to a display key for
that very meeting (`X-Display-Key`); the key opens nothing else.
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
from server.backend.services import accounts, presenter

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
) -> presenter.DisplayLink:
    """A link that opens this meeting's presenter page on a screen nobody signs in on."""
    meeting = meetings_crud.get(session=session, meeting_id=meeting_id)
    link = presenter.display_link(backend, meeting)
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
        presenter.signer(backend).verify(x_display_key, meeting_id=meeting_id)
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
