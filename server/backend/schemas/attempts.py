"""Bodies of the check-in attempts list (`/api/attempts`): what admins see of refusals."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

AttemptChannel = Literal["phone", "kiosk"]
AttemptOutcome = Literal["refused", "suspicious"]


class AttemptPublic(BaseModel):
    """One refused or suspicious attempt, with the claimed or matched member's name."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    at: datetime
    meeting_id: uuid.UUID
    member_id: uuid.UUID | None
    member_name: str = ""
    channel: AttemptChannel
    outcome: AttemptOutcome
    reason: str
    similarity: float | None
    kiosk_id: uuid.UUID | None
    client_ip: str
    location_flag: str


class AttemptsPage(BaseModel):
    data: list[AttemptPublic]
    count: int
