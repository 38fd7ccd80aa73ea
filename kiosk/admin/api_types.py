"""What the admin API answers, as typed dictionaries (the server's JSON, unconverted).

Kept apart from `kiosk.admin.client` so views and models can name the shapes without the
HTTP code. Dates stay ISO-8601 strings, ids UUID strings: the views only show them.
"""

from __future__ import annotations

from typing import Any, NotRequired, Required, TypedDict

Json = dict[str, Any]


class Member(TypedDict):
    id: str
    member_code: str
    full_name: str
    ministry: str
    email: str | None
    phone: str | None
    notes: str
    status: str
    consent_given: bool
    consent_changed_at: str | None
    created_at: str
    updated_at: str
    # Only in a search's pages: whether a face of the server's recogniser is enrolled.
    face_enrolled: NotRequired[bool]


class MemberPage(TypedDict):
    """A page of a member search: `count` is a lower bound when `count_capped` ("1,000+")."""

    data: list[Member]
    count: int
    count_capped: bool
    has_more: bool


class Template(TypedDict):
    id: str
    member_id: str
    model_id: str
    key_version: str
    created_at: str


class Meeting(TypedDict):
    id: str
    title: str
    description: str
    starts_at: str
    ends_at: str
    late_after: str | None
    location_name: str
    latitude: float | None
    longitude: float | None
    radius_m: int
    expected_ministries: list[str]
    expected_member_ids: list[str]
    kiosk_ids: list[str]
    open_to_everyone: bool  # listing nobody, its kiosks still hold every member's face
    qr_policy: str  # "until_end", "max_scans" or "minutes"
    qr_max_scans: int | None
    qr_valid_minutes: int | None
    qr_rotation_seconds: int
    liveness: str  # "never", "review_only" or "always"
    status: str
    qr_scan_count: int
    actions: list[str]  # what the life cycle allows now ("start", ..., "copy")
    next_steps: str  # the same in words


class MeetingQr(TypedDict, total=False):
    token: Required[str]
    url: Required[str]
    meeting_id: Required[str]
    expires_at: Required[str]
    refresh_after_seconds: Required[int]
    # "live" or "video", and a line saying so (servers before issue 24 send neither).
    phone_camera: str
    phone_camera_note: str


class Attendance(TypedDict):
    id: str
    meeting_id: str
    member_id: str
    member_name: str
    ministry: str
    method: str
    status: str
    similarity: float | None
    margin: float | None
    server_time: str
    late: bool
    has_evidence: bool
    # Why it waits for review, when the similarity alone does not say (servers before
    # it send none).
    review_reason: NotRequired[str]


class Attempt(TypedDict):
    """A refused or suspicious check-in attempt, phone or kiosk (`/api/attempts`)."""

    id: str
    at: str
    meeting_id: str
    member_id: str | None
    member_name: str  # who was claimed (phone) or matched (kiosk); "" when unknown
    channel: str  # phone | kiosk
    outcome: str  # refused | suspicious
    reason: str
    similarity: float | None
    kiosk_id: str | None
    client_ip: str
    location_flag: str


class AttemptsPage(TypedDict):
    data: list[Attempt]
    count: int


class HeldMeeting(TypedDict):
    meeting_id: str
    title: str
    people: int  # of the kiosk's people, those expected at this meeting


class DisplayLinkMade(TypedDict):
    """A new display link: its URL (with the key) is shown this once."""

    id: str
    url: str
    expires_at: str


class DisplayLink(TypedDict):
    """A display link still working, as admins list it (never with its key)."""

    id: str
    meeting_id: str
    meeting_title: str
    created_at: str
    created_by: str | None
    expires_at: str
    last_used_at: str | None


class Kiosk(TypedDict):
    id: str
    name: str
    created_at: str
    revoked_at: str | None
    last_seen_at: str | None
    app_version: str
    model_id: str
    gallery_version: int
    queue_depth: int
    camera_state: str
    clock_drift_s: float | None
    health: str  # online, stale, offline, never_seen or revoked (from its last heartbeat)
    model_matches: bool  # it runs the server's face model
    # What its last gallery sync gave it (None: never synced).
    gallery_synced_at: str | None
    gallery_people: int
    gallery_templates: int
    gallery_meetings: list[HeldMeeting]


class AdminAccount(TypedDict):
    id: str
    email: str
    full_name: str
    role: str
    is_active: bool
    has_password: bool
    last_login_at: str | None


class PasswordLinkSent(TypedDict):
    """`detail` says how the link went; without email set up on the server,
    `password_link` is the one-time link for the super admin to pass on (given once)."""

    detail: str
    password_link: str | None


class Invitation(AdminAccount):
    detail: str
    password_link: str | None


class Badge(TypedDict):
    id: str
    member_id: str
    issued_at: str
    revoked_at: str | None
    token: str | None


class BadgeCard(TypedDict):
    """One badge as printed: the working badge's token and who it belongs to."""

    full_name: str
    ministry: str
    member_code: str
    token: str


class LiveEvent(TypedDict):
    event: str
    data: Json


class ReportPerson(TypedDict):
    member_id: str
    full_name: str
    ministry: str
    email: str | None
    phone: str | None
    presence: str  # present | late | pending_review | absent
    checked_in_at: str | None
    method: str | None


class MeetingReport(TypedDict):
    meeting_id: str
    title: str
    starts_at: str
    status: str
    expected: int
    present: int  # late ones included
    late: int
    pending_review: int
    absent: int
    attendance_rate: float | None
    people: list[ReportPerson]


class HistoryLine(TypedDict):
    meeting_id: str
    title: str
    starts_at: str
    presence: str
    checked_in_at: str | None
    method: str | None


class MemberHistory(TypedDict):
    member_id: str
    full_name: str
    meetings: int
    present: int
    late: int
    absent: int
    attendance_rate: float | None
    history: list[HistoryLine]
