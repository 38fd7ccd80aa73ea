"""A check-in made at the kiosk, and the contract between the pipeline and the store.

The live pipeline decides *who* is checking in; the local store makes it durable (one
SQLite transaction with its outbox row) *before* the view is told. These types are the
whole interface between them, so either side can be built and tested alone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

CheckinMethod = Literal["face", "badge_face"]
LocalStatus = Literal["approved", "pending_review"]
OutcomeKind = Literal["recorded", "already_checked_in"]


def new_key() -> str:
    """A client-generated idempotency key: the server stores each one once."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class NewCheckin:
    """What the pipeline decided; the store adds nothing but durability."""

    meeting_id: uuid.UUID
    member_id: uuid.UUID
    method: CheckinMethod
    status: LocalStatus
    similarity: float
    margin: float | None
    second_member_id: uuid.UUID | None
    device_time: datetime  # timezone-aware, UTC
    model_id: str
    # The probe embedding, sent so the server re-scores the match itself.
    probe: NDArray[np.float32]
    badge: str | None = None
    # Aligned face crop (JPEG) kept only for check-ins in the review band.
    evidence_jpeg: bytes | None = None
    # The aligned face crop (JPEG) sent with the check-in: the server embeds it itself
    # and decides on its own similarity (the probe is only a hint).
    face_jpeg: bytes | None = None
    key: str = field(default_factory=new_key)


@dataclass(frozen=True)
class RecordOutcome:
    """`already_checked_in` means no new row was written: the first one stands."""

    kind: OutcomeKind
    key: str  # the key of the row that stands (the earlier one for a repeat)
    recorded_at: datetime


class CheckinRecorder(Protocol):
    """Makes a check-in durable; returns only after the outbox row is committed."""

    def record(self, checkin: NewCheckin) -> RecordOutcome: ...
