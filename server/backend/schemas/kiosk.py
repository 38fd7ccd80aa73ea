"""Request and response bodies of the kiosk side: devices, pairing, heartbeat, sync, upload.

Kept beside `schemas.py` (whose field types they reuse) so each module stays one
concept: admin resources there, the kiosk protocol here.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from server.backend.schemas.resources import ModelId, NoNul

KioskName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), NoNul
]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40), NoNul]
# Client-generated idempotency keys: printable ASCII, no spaces.
IdempotencyKey = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[!-~]+$")
]


def _plausible(value: datetime) -> datetime:
    """A device clock reading in UTC; far-off years are a broken clock, not a time."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must be a real date and time") from None
    if not 2000 <= utc.year <= 2200:
        raise ValueError("must be between the years 2000 and 2200")
    return utc


DeviceTime = Annotated[AwareDatetime, AfterValidator(_plausible)]


def _float32_vector(value: str) -> str:
    """Standard base64 of little-endian float32 values: a whole number of them."""
    try:
        raw = base64.b64decode(value, validate=True)
    except binascii.Error:
        raise ValueError("must be standard base64 (of little-endian float32 values)") from None
    if not raw or len(raw) % 4:
        raise ValueError("must hold a whole number of float32 values (4 bytes each)")
    return value


# An embedding on the wire: base64 of little-endian float32 (512 values: 2,732 chars).
Float32Base64 = Annotated[
    str, StringConstraints(min_length=8, max_length=16_384), AfterValidator(_float32_vector)
]
# An aligned face crop on the wire: standard base64 of a small JPEG or PNG (at most
# 32 KiB, the face-service's limit; a 112x112 JPEG is ~4 KiB).
CropBase64 = Annotated[
    str, StringConstraints(min_length=8, max_length=44_000, pattern=r"^[A-Za-z0-9+/=]+$")
]
KioskHealth = Literal["online", "stale", "offline", "never_seen", "revoked"]
MAX_BATCH = 500


# --- devices and pairing ----------------------------------------------------------


class KioskCreate(BaseModel):
    name: KioskName


class KioskUpdate(BaseModel):
    name: KioskName


class HeldMeeting(BaseModel):
    """A meeting whose people a kiosk was given at its last gallery sync."""

    meeting_id: uuid.UUID
    title: str
    people: int


class KioskPublic(BaseModel):
    """A kiosk as admins see it: identity, the health from its last heartbeat, and what
    its last gallery sync gave it (people, templates, and for which meetings)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    created_at: datetime
    revoked_at: datetime | None
    last_seen_at: datetime | None
    app_version: str
    model_id: str
    gallery_version: int
    queue_depth: int
    camera_state: str
    clock_drift_s: float | None
    health: KioskHealth
    model_matches: bool
    gallery_synced_at: datetime | None = None
    gallery_people: int = 0
    gallery_templates: int = 0
    gallery_meetings: list[HeldMeeting] = Field(default_factory=list)


class PairingCodePublic(BaseModel):
    """Shown once: the kiosk operator types it on the kiosk before it expires."""

    code: str
    name: str
    expires_at: datetime


class PairRequest(BaseModel):
    code: str = Field(min_length=1, max_length=40)


class KioskPaired(BaseModel):
    """What a newly paired kiosk keeps: credential and device secret go into its keyring."""

    kiosk: KioskPublic
    credential: str
    model_id: str
    # Renews the (day-long) credential at /api/kiosk/credential; it changes each time.
    device_secret: str


class CredentialRenewal(BaseModel):
    kiosk_id: uuid.UUID
    device_secret: str = Field(min_length=20, max_length=100)


class CredentialRenewed(BaseModel):
    """A fresh credential and the next device secret: keep both, the old secret is spent."""

    credential: str
    device_secret: str


# --- heartbeat --------------------------------------------------------------------


class HeartbeatRequest(BaseModel):
    app_version: ShortText
    model_id: ModelId
    gallery_version: int = Field(ge=0)
    queue_depth: int = Field(ge=0, le=10_000_000)
    camera_state: Annotated[str, StringConstraints(max_length=20), NoNul]
    device_time: DeviceTime


class HeartbeatReply(BaseModel):
    server_time: datetime
    clock_drift_s: float
    clock_drift_flag: bool
    model_id: str
    model_matches: bool
    gallery_version: int
    # A fresh credential when the current one nears expiry; store it in place of the old.
    credential: str | None = None


# --- gallery sync -----------------------------------------------------------------


class GalleryTemplate(BaseModel):
    template_id: uuid.UUID
    member_id: uuid.UUID
    # `q8`: base64 of a little-endian float32 scale then 512 int8 values (kiosk.protocol.wire).
    embedding: str


class GalleryMember(BaseModel):
    member_id: uuid.UUID
    full_name: str
    ministry: str


class GalleryMeeting(BaseModel):
    """A meeting the kiosk may take check-ins for, with its expected people resolved.

    Who the kiosk may recognise for it: with `expects_everyone`, every person this
    answer gives the kiosk (the list is then left empty); otherwise exactly
    `expected_member_ids`, and an empty list means nobody (face check-in is off; staff
    check people in). A kiosk from before `expects_everyone` reads an empty list as
    everyone it holds, so an everyone meeting works on it as before (what it syncs for
    a meeting expecting nobody waits for review: `checkin_upload`); a kiosk of this
    release reads a missing `expects_everyone` (a server from before it) as false,
    which is what that server's lists mean.
    """

    meeting_id: uuid.UUID
    title: str
    status: str
    starts_at: datetime
    ends_at: datetime
    late_after: datetime | None
    expected_member_ids: list[uuid.UUID]
    expects_everyone: bool = False
    # When the kiosk asks for a head turn: never, review_only or always.
    liveness: str = "review_only"


class GallerySync(BaseModel):
    """A delta since the kiosk's version, or (`full`) a snapshot that replaces its gallery.

    `scope` names the set of people the kiosk needs; the kiosk sends it back with its
    next `since`, and a different scope (meetings or expected people changed) gets a
    full snapshot, since a delta cannot bring back templates added before `since`.
    `members` and `meetings` are null when unchanged since the digests the kiosk sent
    back (`members=`, `meetings=`); a snapshot always carries both. Templates come last.
    """

    version: int
    model_id: str
    full: bool
    scope: str
    embedding_format: Literal["q8"] = "q8"
    deleted_template_ids: list[uuid.UUID]
    deleted_member_ids: list[uuid.UUID]
    members: list[GalleryMember] | None
    members_digest: str
    meetings: list[GalleryMeeting] | None
    meetings_digest: str
    revoked_badge_ids: list[uuid.UUID]
    templates: list[GalleryTemplate]


# --- check-in upload --------------------------------------------------------------


class KioskCheckinItem(BaseModel):
    """One check-in made at the kiosk, validated item by item."""

    key: IdempotencyKey
    meeting_id: uuid.UUID
    member_id: uuid.UUID
    method: Literal["face", "badge_face"]
    similarity: float = Field(ge=-1.0, le=1.0)
    margin: float | None = Field(default=None, ge=-2.0, le=2.0)
    second_member_id: uuid.UUID | None = None
    device_time: DeviceTime
    badge: str | None = Field(default=None, max_length=1024)
    model_id: ModelId
    # The face embedding the kiosk matched: only a hint (it can refuse, never approve).
    probe: Float32Base64 | None = None
    # The aligned face crop the kiosk embedded: the server embeds it itself and decides
    # on its own similarity. Without it a face check-in is never approved.
    face: CropBase64 | None = None


class KioskCheckinBatch(BaseModel):
    """Items stay loose here so one malformed item is refused alone, not the batch."""

    items: list[Any] = Field(min_length=1, max_length=MAX_BATCH)
    # The device's clock when it sent the batch: measures its drift for queued items.
    sent_at: DeviceTime | None = None


CheckinResultKind = Literal["recorded", "already_checked_in", "refused"]


class KioskCheckinResult(BaseModel):
    key: str
    result: CheckinResultKind
    record_id: uuid.UUID | None = None
    status: str | None = None
    late: bool | None = None
    reason: str | None = None


class KioskCheckinResults(BaseModel):
    results: list[KioskCheckinResult]


class KioskRefusalPublic(BaseModel):
    """A check-in a kiosk sent and the server refused for good: attendance that did not count.

    `meeting_id` and `member_id` are as the kiosk sent them; `meeting_title` and
    `member_name` are empty when this server does not know them (e.g. after a re-deploy).
    """

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    at: datetime
    kiosk_id: uuid.UUID | None
    kiosk_name: str
    key: str
    meeting_id: str
    meeting_title: str = ""
    member_id: str
    member_name: str = ""
    method: str
    device_time: datetime | None
    similarity: float | None
    reason: str


class KioskRefusalsPage(BaseModel):
    data: list[KioskRefusalPublic]
    count: int


# --- badges -----------------------------------------------------------------------


class BadgeKey(BaseModel):
    kid: str
    algorithm: Literal["Ed25519"]
    # The raw 32-byte public key, base64url without padding.
    public_key: str


class BadgeKeys(BaseModel):
    keys: list[BadgeKey]


class BadgePublic(BaseModel):
    id: uuid.UUID
    member_id: uuid.UUID
    issued_at: datetime
    revoked_at: datetime | None
    # The signed payload printed in the QR code; absent once revoked.
    token: str | None
