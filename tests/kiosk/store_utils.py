"""Small factories for the local-store tests: check-ins, templates, sync answers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from kiosk.protocol.checkins import NewCheckin
from kiosk.storage.local_gallery import GalleryUpdate, MeetingRecord, MemberRecord, TemplateRecord

MODEL = "vectron@0123456789abcdef"
RNG = np.random.default_rng(7)


def unit_vector() -> NDArray[np.float32]:
    vector = RNG.normal(size=512).astype(np.float32)
    return vector / np.linalg.norm(vector)


def a_checkin(
    meeting: uuid.UUID,
    member: uuid.UUID,
    *,
    status: str = "approved",
    evidence: bytes | None = None,
) -> NewCheckin:
    return NewCheckin(
        meeting_id=meeting,
        member_id=member,
        method="face",
        status=status,  # type: ignore[arg-type]
        similarity=0.71,
        margin=0.2,
        second_member_id=None,
        device_time=datetime.now(UTC),
        model_id=MODEL,
        probe=unit_vector(),
        evidence_jpeg=evidence,
    )


def a_meeting(
    expected: tuple[str, ...] = (), *, status: str = "active", everyone: bool | None = None
) -> MeetingRecord:
    """An open meeting; listing nobody, it expects everyone unless `everyone=False`."""
    start = datetime.now(UTC) - timedelta(minutes=5)
    return MeetingRecord(
        meeting_id=str(uuid.uuid4()),
        title="Sonta Heads",
        status=status,
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        late_after=start + timedelta(minutes=15),
        expected_member_ids=expected,
        expects_everyone=not expected if everyone is None else everyone,
    )


def snapshot(
    members: dict[str, str], meetings: list[MeetingRecord], *, version: int = 1, per_member: int = 1
) -> tuple[GalleryUpdate, list[TemplateRecord]]:
    templates = [
        TemplateRecord(str(uuid.uuid4()), member_id, unit_vector())
        for member_id in members
        for _ in range(per_member)
    ]
    update = GalleryUpdate(
        version=version,
        model_id=MODEL,
        full=True,
        scope="s1",
        templates=templates,
        members=[MemberRecord(m, name, "Choir") for m, name in members.items()],
        meetings=meetings,
        revoked_badge_ids=[],
    )
    return update, templates
