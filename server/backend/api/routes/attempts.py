"""Refused and suspicious check-in attempts (`/api/attempts`), for admins to follow up."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from server.backend.api.deps import CurrentAdmin, SessionDep
from server.backend.schemas.attempts import AttemptChannel, AttemptOutcome, AttemptsPage
from server.backend.services import attempts

router = APIRouter(prefix="/attempts", tags=["attendance"])


@router.get("")
def list_attempts(
    *,
    session: SessionDep,
    _admin: CurrentAdmin,
    meeting_id: uuid.UUID | None = None,
    channel: AttemptChannel | None = None,
    outcome: AttemptOutcome | None = None,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AttemptsPage:
    """Phone and kiosk attempts that were refused or look suspicious, newest first."""
    where = attempts.AttemptFilter(meeting_id=meeting_id, channel=channel, outcome=outcome)
    rows, count = attempts.search(session, where, skip=skip, limit=limit)
    return AttemptsPage(data=rows, count=count)
