"""The audit log (`/api/audit`), readable by every admin."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from server.backend.api.deps import CurrentAdmin, SessionDep
from server.backend.crud import audit as crud
from server.backend.schemas.resources import NO_NUL, AuditPage, AuditPublic

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("")
def list_audit(
    *,
    session: SessionDep,
    _admin: CurrentAdmin,
    action: Annotated[str | None, Query(max_length=60, pattern=NO_NUL)] = None,
    actor_id: uuid.UUID | None = None,
    target_id: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """Admin actions, newest first."""
    rows, count = crud.list_entries(
        session=session,
        action=action,
        actor_id=actor_id,
        target_id=target_id,
        skip=skip,
        limit=limit,
    )
    return AuditPage(data=[AuditPublic.model_validate(r) for r in rows], count=count)
