"""Request and response bodies: the XBase / XCreate / XUpdate / XPublic family per resource.

Every free-text field refuses NUL characters (PostgreSQL cannot store them) and has a
maximum length matching its column, so bad input is a clear 422 before it reaches SQL.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    WithJsonSchema,
    computed_field,
    model_validator,
)

from kiosk.inference import embedding_dimension
from server.backend import lifecycle


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


NoNul = AfterValidator(_no_nul)


def _whole_address(value: str) -> str:
    local, at, domain = value.rpartition("@")
    if not (local and at and domain):
        raise ValueError("enter the whole email address, like name@example.org")
    return value


# For query parameters: PostgreSQL cannot compare against text holding NUL characters.
NO_NUL = r"^[^\x00]*$"
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoNul]
Label = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), NoNul]
Ministry = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120), NoNul
]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40), NoNul]
LongText = Annotated[str, StringConstraints(max_length=4000), NoNul]
ModelId = Annotated[str, StringConstraints(min_length=1, max_length=100), NoNul]
Email = Annotated[EmailStr, StringConstraints(max_length=320), NoNul]
# Addresses are checked when stored. One read back, or typed to find a stored one (sign-in,
# links), is taken as it is: email-validator's rules change between releases, and an
# address stored under older ones must not lock its admin out or fail a whole list.
StoredEmail = Annotated[str, WithJsonSchema({"type": "string", "format": "email"})]
EmailToFind = Annotated[
    StoredEmail,
    StringConstraints(strip_whitespace=True, max_length=320),
    NoNul,
    AfterValidator(_whole_address),
]
Role = Literal["super_admin", "admin"]
MemberStatus = Literal["active", "inactive"]
MeetingStatus = Literal["scheduled", "active", "ended", "cancelled"]
QrPolicy = Literal["until_end", "max_scans", "minutes"]
# When a head-turn challenge is asked. The kiosk asks it "always" or in the review band
# ("review_only"); an unattended phone asks it unless the meeting says "never".
LivenessPolicy = Literal["never", "review_only", "always"]


class Message(BaseModel):
    detail: str


# --- auth -------------------------------------------------------------------------


class LoginRequest(BaseModel):
    email: EmailToFind
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=4096)


class TokenPublic(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 scheme name
    expires_in: int


class EmailRequest(BaseModel):
    email: EmailToFind


class OneTimeTokenRequest(BaseModel):
    token: str = Field(min_length=1, max_length=200)


class PasswordSetRequest(BaseModel):
    token: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)


# --- admins -----------------------------------------------------------------------


class AdminBase(BaseModel):
    email: Email
    full_name: Label = ""
    role: Role = "admin"


class AdminCreate(AdminBase):
    pass


class AdminUpdate(BaseModel):
    full_name: Label | None = None
    role: Role | None = None
    is_active: bool | None = None


class AdminPublic(AdminBase):
    model_config = ConfigDict(from_attributes=True)

    email: StoredEmail
    id: uuid.UUID
    is_active: bool
    has_password: bool
    created_at: datetime
    last_login_at: datetime | None


class PasswordLinkSent(Message):
    """How an admin gets their set-password link: emailed, or, when email is not set up,
    `password_link` for the super admin who asked to pass on (answered this once)."""

    password_link: str | None = None


class AdminInvited(AdminPublic):
    """A new admin, with `PasswordLinkSent`'s sentence and link."""

    detail: str
    password_link: str | None = None


# --- members ----------------------------------------------------------------------


class MemberBase(BaseModel):
    full_name: Name
    ministry: Ministry
    email: Email | None = None
    phone: Phone | None = None
    notes: LongText = ""


class MemberCreate(MemberBase):
    status: MemberStatus = "active"


class MemberUpdate(BaseModel):
    full_name: Name | None = None
    ministry: Ministry | None = None
    email: Email | None = None
    phone: Phone | None = None
    notes: LongText | None = None
    status: MemberStatus | None = None


class MemberPublic(MemberBase):
    model_config = ConfigDict(from_attributes=True)

    # Not checked again on the way out (see StoredEmail); it would also cost ~60 µs a member.
    email: StoredEmail | None = None
    id: uuid.UUID
    member_code: str
    status: MemberStatus
    consent_given: bool
    consent_changed_at: datetime | None
    consent_changed_by_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class MemberListed(MemberPublic):
    """A member as a search lists them, with whether a face of the recogniser in use is
    enrolled (what People shows, so an admin sees who still needs one)."""

    face_enrolled: bool


class Ministries(BaseModel):
    ministries: list[str]


class MembersPublic(BaseModel):
    """A page of members. Counting stops at a cap: past it, `count` is the cap and
    `count_capped` is true ("1,000+"); page on with `skip` while `has_more` is true."""

    data: list[MemberListed]
    count: int = Field(
        description="How many members match: exact, or a lower bound when count_capped."
    )
    count_capped: bool = Field(
        default=False, description="More members match than `count`; show it as 'count+'."
    )
    has_more: bool = Field(default=False, description="Another page follows this one.")


class ConsentUpdate(BaseModel):
    given: bool


class ImportRowProblem(BaseModel):
    """A row that cannot be imported, with every problem found in it."""

    row: int
    errors: list[str]


class ImportRowReport(BaseModel):
    """What one row did (or would do, in a dry run)."""

    row: int
    action: Literal["created", "updated", "unchanged"]
    full_name: str
    member_code: str  # of the matched member; "" for a new one until it is saved
    changes: list[str] = Field(default_factory=list)
    # A new member who looks already listed (a likely duplicate): why, in words.
    warning: str = ""


class ImportReport(BaseModel):
    created: int
    errors: list[ImportRowProblem]
    updated: int = 0
    unchanged: int = 0
    # False for a dry run: the report says what would happen; nothing was saved.
    saved: bool = True
    rows: list[ImportRowReport] = Field(default_factory=list)
    warnings: int = 0  # rows that look like someone already listed


# --- face templates ---------------------------------------------------------------

EMBEDDING_SIZE = 512  # the largest recogniser's; dlib's has 128


class TemplateCreate(BaseModel):
    embedding: list[float] = Field(min_length=1, max_length=EMBEDDING_SIZE)
    model_id: ModelId

    @model_validator(mode="after")
    def _sized_for_its_recogniser(self) -> TemplateCreate:
        expected = embedding_dimension(self.model_id)
        if len(self.embedding) != expected:
            raise ValueError(
                f"embeddings of {self.model_id} have {expected} numbers, this one "
                f"{len(self.embedding)}; send the embedding exactly as the recogniser made it"
            )
        return self


class TemplatePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    member_id: uuid.UUID
    model_id: str
    key_version: str
    created_at: datetime


# --- meetings ---------------------------------------------------------------------


class MeetingBase(BaseModel):
    title: Name
    description: LongText = ""
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    late_after: AwareDatetime | None = None
    location_name: Label = ""
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    radius_m: int = Field(default=100, ge=10, le=50_000)
    expected_ministries: list[Ministry] = Field(default_factory=list, max_length=200)
    expected_member_ids: list[uuid.UUID] = Field(default_factory=list, max_length=5000)
    # The kiosks that take its check-ins (and sync its people); empty: every kiosk.
    kiosk_ids: list[uuid.UUID] = Field(default_factory=list, max_length=200)
    # Listing nobody, kiosks serving it download every active member's face only when
    # this is true (otherwise nobody's: a kiosk holds only the people it may see). A
    # meeting must list someone or set this: the API refuses neither, as the form does.
    open_to_everyone: bool = False
    qr_policy: QrPolicy = "until_end"
    qr_max_scans: int | None = Field(default=None, ge=1, le=100_000)
    qr_valid_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    qr_rotation_seconds: int = Field(default=30, ge=10, le=3600)
    liveness: LivenessPolicy = "review_only"


class MeetingCreate(MeetingBase):
    pass


class MeetingUpdate(BaseModel):
    title: Name | None = None
    description: LongText | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    late_after: AwareDatetime | None = None
    location_name: Label | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    radius_m: int | None = Field(default=None, ge=10, le=50_000)
    expected_ministries: list[Ministry] | None = Field(default=None, max_length=200)
    expected_member_ids: list[uuid.UUID] | None = Field(default=None, max_length=5000)
    kiosk_ids: list[uuid.UUID] | None = Field(default=None, max_length=200)
    open_to_everyone: bool | None = None
    qr_policy: QrPolicy | None = None
    qr_max_scans: int | None = Field(default=None, ge=1, le=100_000)
    qr_valid_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    qr_rotation_seconds: int | None = Field(default=None, ge=10, le=3600)
    liveness: LivenessPolicy | None = None


class MeetingReopen(BaseModel):
    """Reopen an ended meeting; a later `ends_at` when its end time has passed."""

    ends_at: AwareDatetime | None = None


class MeetingCopy(BaseModel):
    """A new meeting like an existing one; by default one week later, same title."""

    title: Name | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None


class MeetingPublic(MeetingBase):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: MeetingStatus
    qr_scan_count: int
    started_at: datetime | None
    ended_at: datetime | None
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def actions(self) -> list[str]:
        """What the life cycle allows now (`POST /api/meetings/{id}/<action>`)."""
        return lifecycle.allowed_actions(self.status)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def next_steps(self) -> str:
        """The same, in words for the admin screen."""
        return lifecycle.possible(self.status)


class MeetingsPublic(BaseModel):
    data: list[MeetingPublic]
    count: int


class MeetingQr(BaseModel):
    token: str
    url: str  # what the on-screen QR encodes: the phone check-in page with this token
    meeting_id: uuid.UUID
    expires_at: datetime
    refresh_after_seconds: int
    # "live": phones get the page's live camera (https); "video": their camera app
    # records a short selfie video (plain http). `phone_camera_note` says so to the admin.
    phone_camera: Literal["live", "video"] = "live"
    phone_camera_note: str = ""


class QrToken(BaseModel):
    token: str = Field(min_length=1, max_length=1024)


class QrInfo(BaseModel):
    meeting_id: uuid.UUID
    title: str
    location_name: str
    latitude: float | None
    longitude: float | None
    radius_m: int
    starts_at: datetime
    ends_at: datetime
    late_after: datetime | None
    code_expires_at: datetime


class QrTicket(QrInfo):
    ticket: str
    ticket_expires_at: datetime
    # The head moves asked, in order, while the page takes its frames (the person's own
    # left or right, or up); empty: none. `challenge` is the first of them.
    challenge: Literal["left", "right", "up"] | None = None
    moves: list[Literal["left", "right", "up"]] = []


class QrTicketRequest(BaseModel):
    ticket: str = Field(min_length=1, max_length=200)


class QrRedeemed(BaseModel):
    meeting_id: uuid.UUID


# --- audit ------------------------------------------------------------------------


class AuditPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_id: uuid.UUID | None
    actor_email: str
    action: str
    target_type: str
    target_id: str
    details: dict[str, Any]
    client_ip: str


class AuditPage(BaseModel):
    data: list[AuditPublic]
    count: int


# --- attendance records, review queue --------------------------------------------

AttendanceMethod = Literal["face", "badge_face", "qr", "manual", "phone"]
AttendanceStatus = Literal["approved", "pending_review", "rejected"]


class AttendancePublic(BaseModel):
    """A check-in as admins see it; the evidence crop itself is fetched separately."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    meeting_id: uuid.UUID
    member_id: uuid.UUID
    method: str
    status: str
    similarity: float | None
    margin: float | None
    kiosk_id: uuid.UUID | None
    device_time: datetime | None
    server_time: datetime
    clock_drift_flag: bool
    late: bool
    created_by_id: uuid.UUID | None
    reviewed_by_id: uuid.UUID | None
    reviewed_at: datetime | None
    # Why it waits for a reviewer when the similarity alone does not say; "" otherwise.
    review_reason: str = ""
    latitude: float | None
    longitude: float | None
    accuracy_m: float | None
    location_flag: str
    has_evidence: bool = False


class AttendanceEntry(AttendancePublic):
    """A record with the member's name and ministry, for lists and the review queue."""

    member_name: str
    ministry: str


class AttendancePage(BaseModel):
    data: list[AttendanceEntry]
    count: int


class ManualCheckinCreate(BaseModel):
    member_id: uuid.UUID
    note: Label = ""


class CheckinResult(BaseModel):
    """`recorded`, or `already_checked_in` with the member's existing record."""

    result: Literal["recorded", "already_checked_in"]
    record: AttendancePublic


class ReviewDecision(BaseModel):
    note: Label = ""


class PhoneCheckinResult(BaseModel):
    """`recorded` (approved or pending review), `already_checked_in`, or `not_recognised`."""

    result: Literal["recorded", "already_checked_in", "not_recognised"]
    message: str
    status: AttendanceStatus | None = None
    late: bool | None = None
    # Who was checked in and when (the first check-in's time when already checked in):
    # only once the face matched the person named, never on a refusal.
    full_name: str | None = None
    checked_in_at: datetime | None = None
    location_flag: str = ""
    tries_left: int
