"""The database tables (SQLAlchemy 2 typed ORM), valid on PostgreSQL and SQLite alike."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    Uuid,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from server.backend import member_codes


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass a timezone-aware one")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


class Admin(Base):
    """A person who manages the system: `super_admin` manages admins, `admin` the rest."""

    __tablename__ = "admins"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20), default="admin")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    # Bumped to end every session at once (disable, password change).
    session_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None


class Member(Base):
    """A Sonta Head whose attendance is taken."""

    __tablename__ = "members"
    __table_args__ = (
        Index("ix_members_ministry", "ministry"),
        Index("ix_members_name", "full_name"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), unique=True, default=None)
    # Short code printed on the badge: the phone flow's identifier besides email.
    member_code: Mapped[str] = mapped_column(
        String(12), unique=True, index=True, default=member_codes.new_code
    )
    phone: Mapped[str | None] = mapped_column(String(40), default=None)
    ministry: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(20), default="active")
    notes: Mapped[str] = mapped_column(Text, default="")
    consent_given: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_changed_at: Mapped[datetime | None] = mapped_column(default=None)
    consent_changed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("admins.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class FaceTemplate(Base):
    """One encrypted face embedding of a member, tied to the recogniser that made it."""

    __tablename__ = "face_templates"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    model_id: Mapped[str] = mapped_column(String(100), index=True)
    key_version: Mapped[str] = mapped_column(String(16))
    nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("admins.id", ondelete="SET NULL"), default=None
    )


class Meeting(Base):
    """A meeting whose attendance is taken, with its schedule, place and QR policy."""

    __tablename__ = "meetings"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    late_after: Mapped[datetime | None] = mapped_column(default=None)
    location_name: Mapped[str] = mapped_column(String(200), default="")
    latitude: Mapped[float | None] = mapped_column(default=None)
    longitude: Mapped[float | None] = mapped_column(default=None)
    radius_m: Mapped[int] = mapped_column(Integer, default=100)
    status: Mapped[str] = mapped_column(String(20), default="scheduled", index=True)
    expected_ministries: Mapped[list[str]] = mapped_column(default=list)
    expected_member_ids: Mapped[list[str]] = mapped_column(default=list)
    # Kiosks that take this meeting's check-ins; empty: every kiosk.
    kiosk_ids: Mapped[list[str]] = mapped_column(default=list, server_default=text("'[]'"))
    # Set by an admin: kiosks serving this meeting download every active member's face
    # even though it lists nobody. Unset, a meeting that lists nobody sends kiosks no one.
    open_to_everyone: Mapped[bool] = mapped_column(default=False, server_default=false())
    qr_policy: Mapped[str] = mapped_column(String(20), default="until_end")
    qr_max_scans: Mapped[int | None] = mapped_column(Integer, default=None)
    qr_valid_minutes: Mapped[int | None] = mapped_column(Integer, default=None)
    qr_rotation_seconds: Mapped[int] = mapped_column(Integer, default=30)
    # When a head-turn challenge is asked: never, only in the review band, or always.
    liveness: Mapped[str] = mapped_column(
        String(12), default="review_only", server_default="review_only"
    )
    qr_scan_count: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("admins.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AuditEntry(Base):
    """One admin action: who, what, on which record, when, from where."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("admins.id", ondelete="SET NULL"), default=None, index=True
    )
    actor_email: Mapped[str] = mapped_column(String(320), default="")
    action: Mapped[str] = mapped_column(String(60), index=True)
    target_type: Mapped[str] = mapped_column(String(40), default="")
    target_id: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    client_ip: Mapped[str] = mapped_column(String(64), default="")


class Kiosk(Base):
    """A paired kiosk device, with the health it last reported in its heartbeat."""

    __tablename__ = "kiosks"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("admins.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set once and never cleared: a revoked kiosk must pair again as a new device.
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    app_version: Mapped[str] = mapped_column(String(40), default="")
    model_id: Mapped[str] = mapped_column(String(100), default="")
    gallery_version: Mapped[int] = mapped_column(BigInteger, default=0)
    queue_depth: Mapped[int] = mapped_column(Integer, default=0)
    camera_state: Mapped[str] = mapped_column(String(20), default="")
    # Device clock minus server clock, in seconds, measured at the last heartbeat.
    clock_drift_s: Mapped[float | None] = mapped_column(default=None)
    # SHA-256 of the device secret in the kiosk's keyring (None: paired before secrets),
    # the one it replaced and when: a secret used again after that is a copied kiosk.
    secret_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    previous_secret_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(default=None)
    # What the kiosk's last gallery sync gave it: people, templates, and the meetings
    # they came from ([{"meeting_id", "title", "people"}]), for the admins' Kiosks screen.
    gallery_synced_at: Mapped[datetime | None] = mapped_column(default=None)
    gallery_people: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    gallery_templates: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    gallery_meetings: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )


class AttendanceRecord(Base):
    """One check-in of a member at a meeting; at most one approved record per pair."""

    __tablename__ = "attendance_records"
    __table_args__ = (
        Index(
            "uq_attendance_one_approved",
            "meeting_id",
            "member_id",
            unique=True,
            sqlite_where=text("status = 'approved'"),
            postgresql_where=text("status = 'approved'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    meeting_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    # face | badge_face | qr | manual | phone
    method: Mapped[str] = mapped_column(String(20))
    # approved | pending_review | rejected
    status: Mapped[str] = mapped_column(String(20), index=True)
    similarity: Mapped[float | None] = mapped_column(default=None)
    # Best person's similarity minus the second-best person's.
    margin: Mapped[float | None] = mapped_column(default=None)
    kiosk_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("kiosks.id", ondelete="SET NULL"), default=None, index=True
    )
    device_time: Mapped[datetime | None] = mapped_column(default=None)
    server_time: Mapped[datetime] = mapped_column(default=utcnow)
    clock_drift_flag: Mapped[bool] = mapped_column(Boolean, default=False)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("admins.id", ondelete="SET NULL"), default=None
    )
    reviewed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("admins.id", ondelete="SET NULL"), default=None
    )
    reviewed_at: Mapped[datetime | None] = mapped_column(default=None)
    # Why a pending record waits for a reviewer, when the band alone does not say
    # (e.g. a face check-in at a meeting that expects nobody); "" otherwise.
    review_reason: Mapped[str] = mapped_column(String(300), default="", server_default="")
    latitude: Mapped[float | None] = mapped_column(default=None)
    longitude: Mapped[float | None] = mapped_column(default=None)
    accuracy_m: Mapped[float | None] = mapped_column(default=None)
    # "" (no position) | inside | outside | unknown
    location_flag: Mapped[str] = mapped_column(String(20), default="")
    evidence_nonce: Mapped[bytes | None] = mapped_column(LargeBinary(12), default=None)
    evidence_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    evidence_expires_at: Mapped[datetime | None] = mapped_column(default=None)


class KioskCheckin(Base):
    """An idempotency key a kiosk sent, with the result it got the first time.

    Written in the same transaction as the attendance record, so a key is never stored
    without its outcome, nor an outcome without its key.
    """

    __tablename__ = "kiosk_checkins"

    kiosk_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("kiosks.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    # sha256 hex of the item's canonical JSON: a reused key with other content is refused.
    payload_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    record_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("attendance_records.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KioskRefusal(Base):
    """A check-in a kiosk sent that the server refused for good, kept for admins.

    A refused kiosk check-in is attendance that did not count (a meeting deleted by a
    re-deploy, a model mismatch, a malformed item): admins see what was sent, by which
    kiosk and why. Meeting and member are kept as the kiosk named them, without foreign
    keys, since the point is often that they do not exist here.
    """

    __tablename__ = "kiosk_refusals"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    kiosk_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("kiosks.id", ondelete="SET NULL"), default=None, index=True
    )
    # The kiosk's name when it sent this, kept should the kiosk later be deleted.
    kiosk_name: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(100))
    meeting_id: Mapped[str] = mapped_column(String(100), default="")
    member_id: Mapped[str] = mapped_column(String(100), default="")
    method: Mapped[str] = mapped_column(String(20), default="")
    device_time: Mapped[datetime | None] = mapped_column(default=None)
    similarity: Mapped[float | None] = mapped_column(default=None)
    reason: Mapped[str] = mapped_column(String(300))


class DisplayLink(Base):
    """A link that opens one meeting's presenter page on a screen nobody signs in on.

    The key a link carries names this row, and the row is read on every request, so an
    admin can list the links and revoke one alone, at once (before, only rotating
    QR_SECRET stopped a link, and it stopped all of them).
    """

    __tablename__ = "display_links"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    meeting_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("admins.id", ondelete="SET NULL"), default=None
    )
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class Badge(Base):
    """A member's signed QR badge; reissuing revokes the previous one."""

    __tablename__ = "badges"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("admins.id", ondelete="SET NULL"), default=None
    )
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class GalleryEvent(Base):
    """One template added or deleted; the id is the gallery version kiosks sync from.

    No foreign keys: a deletion event must outlive the template and member it names.
    """

    __tablename__ = "gallery_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    template_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    # added | deleted
    action: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CheckinAttempt(Base):
    """A refused or suspicious check-in attempt (phone or kiosk), kept for admins to see.

    `member_id` is who was claimed (phone) or matched (kiosk), when known.
    """

    __tablename__ = "checkin_attempts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    meeting_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), default=None
    )
    # phone | kiosk
    channel: Mapped[str] = mapped_column(String(10))
    # refused | suspicious
    outcome: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(String(300))
    similarity: Mapped[float | None] = mapped_column(default=None)
    kiosk_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("kiosks.id", ondelete="SET NULL"), default=None
    )
    client_ip: Mapped[str] = mapped_column(String(64), default="")
    location_flag: Mapped[str] = mapped_column(String(20), default="")


class RefreshFamily(Base):
    """One sign-in's refresh-token family, kept durable so a cache restart signs nobody out.

    `current_jti` is the only refresh token id that rotates; `previous_jti` and
    `rotated_at` let a retry of the previous token within seconds get the same successor.
    Times are epoch seconds, as in the tokens' own claims.
    """

    __tablename__ = "refresh_families"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    admin_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("admins.id", ondelete="CASCADE"), index=True
    )
    current_jti: Mapped[str] = mapped_column(String(64))
    previous_jti: Mapped[str | None] = mapped_column(String(64), default=None)
    rotated_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class SingleUseToken(Base):
    """A single-use token (sign-in link, pairing code, QR or stream ticket), by key hash."""

    __tablename__ = "single_use_tokens"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    # Epoch seconds.
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
