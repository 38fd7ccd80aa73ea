"""Check-ins kiosks sent that the server refused for good (`/api/kiosk-refusals`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from server.backend.api.deps import CurrentAdmin, SessionDep
from server.backend.schemas.kiosk import KioskRefusalsPage
from server.backend.services import kiosk_refusals

router = APIRouter(prefix="/kiosk-refusals", tags=["kiosks"])


@router.get("")
def list_kiosk_refusals(
    *,
    session: SessionDep,
    _admin: CurrentAdmin,
    kiosk_id: uuid.UUID | None = None,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> KioskRefusalsPage:
    """Kiosk check-ins refused for good (attendance that did not count), newest first.

    Each names the kiosk, the meeting and member as the kiosk sent them (with title and
    name when this server knows them) and the reason. The kiosk keeps them too:
    `sonta kiosk export-unsent FILE` writes them with the names it knew.
    """
    rows, count = kiosk_refusals.search(session, kiosk_id=kiosk_id, skip=skip, limit=limit)
    return KioskRefusalsPage(data=rows, count=count)
