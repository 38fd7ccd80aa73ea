"""Kiosk devices: one-time pairing codes, credentials, revocation, heartbeat and health.

A pairing code is single-use and short-lived, kept in the database (hashed, so it never
holds a usable code) so any replica can redeem it exactly once. Only a
signed-in admin can create one, and the kiosk it pairs is recorded as that admin's.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.backend.core.security.kiosk_tokens import KioskClaims
from server.backend.crud.single_use import SingleUseTokens
from server.backend.errors import AuthError, ForbiddenError, NotFoundError
from server.backend.models import Admin, Kiosk, utcnow
from server.backend.schemas.kiosk import HeartbeatRequest, HeldMeeting, KioskHealth, KioskPublic
from server.backend.services.attendance import MAX_CLOCK_DRIFT_S
from server.backend.services.throttle import Limit

PAIRING_CODE_TTL = 10 * 60
# No 0/O, 1/I/L: the code is read off one screen and typed on another.
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_CODE_LENGTH = 12  # about 59 bits: unguessable within its ten minutes
PAIR_PER_CLIENT = Limit(attempts=20, window_seconds=900)
# Whatever the addresses: 60 addresses x 19 guesses went unrefused (issue 25). Pairing
# by code is rare (one per new kiosk); when it is shut, an admin still pairs a kiosk by
# signing in on it (`POST /api/kiosks`), which no anonymous caller can exhaust.
PAIR_PER_SERVER = Limit(attempts=100, window_seconds=900)
PAIR_PER_CODE = Limit(attempts=5, window_seconds=900)
HTTP_PAIRING_REFUSED = (
    "This server is in production and the pairing came over plain http, where the code, "
    "the kiosk's credential and its gallery can be read on the way; the code is now void. "
    "Make a new code and pair with the server's https address, or, for a kiosk on the "
    "venue's own network, set ALLOW_HTTP_PAIRING=true on the server."
)
PAIR_SHUT = (
    "Too many pairing attempts on this server; wait a quarter of an hour, or pair the kiosk "
    "by signing in on it as an admin."
)
# A kiosk sends a heartbeat every minute or so; these bound "online" and "stale".
ONLINE_WITHIN = timedelta(minutes=3)
STALE_WITHIN = timedelta(minutes=15)


@dataclass(frozen=True)
class PairingCode:
    code: str
    name: str
    expires_at: datetime


def _normalise(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _code_key(code: str) -> str:
    return f"kiosk:pair:{code_digest(code)}"


def code_digest(code: str) -> str:
    """The code as throttles and stores name it: never in clear."""
    return hashlib.sha256(_normalise(code).encode()).hexdigest()


def create_pairing_code(store: SingleUseTokens, *, name: str, by: Admin) -> PairingCode:
    """A fresh code (shown once, as XXXX-XXXX-XXXX) that pairs one kiosk named `name`."""
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_LENGTH))
    code = "-".join(raw[i : i + 4] for i in range(0, _CODE_LENGTH, 4))
    value = json.dumps({"name": name, "admin_id": str(by.id)})
    store.set(_code_key(code), value, ttl=PAIRING_CODE_TTL)
    return PairingCode(code, name, utcnow() + timedelta(seconds=PAIRING_CODE_TTL))


def redeem_pairing_code(store: SingleUseTokens, code: str) -> tuple[str, uuid.UUID]:
    """The kiosk name and creating admin of a code, which can never be used again."""
    value = store.take(_code_key(code))
    if value is None:
        raise AuthError("This pairing code is not valid, was already used, or has expired.")
    data = json.loads(value)
    return str(data["name"]), uuid.UUID(data["admin_id"])


def refuse_plain_http(store: SingleUseTokens, code: str) -> None:
    """Void the code (it was seen in clear) and refuse the pairing."""
    store.take(_code_key(code))
    raise ForbiddenError(HTTP_PAIRING_REFUSED)


def create_kiosk(session: Session, *, name: str, by_id: uuid.UUID | None) -> Kiosk:
    kiosk = Kiosk(name=name, created_by_id=by_id)
    session.add(kiosk)
    session.flush()
    return kiosk


def get(session: Session, kiosk_id: uuid.UUID) -> Kiosk:
    kiosk = session.get(Kiosk, kiosk_id)
    if kiosk is None:
        raise NotFoundError("No such kiosk.")
    return kiosk


def list_kiosks(session: Session, *, include_revoked: bool) -> list[Kiosk]:
    query = select(Kiosk)
    if not include_revoked:
        query = query.where(Kiosk.revoked_at.is_(None))
    return list(session.scalars(query.order_by(Kiosk.name, Kiosk.id)))


def revoke(session: Session, kiosk: Kiosk) -> bool:
    """Revoke for good; False when it already was (revoking twice changes nothing)."""
    if kiosk.revoked_at is not None:
        return False
    kiosk.revoked_at = utcnow()
    session.flush()
    return True


def authenticate(session: Session, claims: KioskClaims) -> Kiosk:
    """The paired, unrevoked kiosk a verified credential names; AuthError otherwise."""
    kiosk = session.get(Kiosk, claims.kiosk_id)
    if kiosk is None:
        raise AuthError("This kiosk is not paired; pair it again.")
    if kiosk.revoked_at is not None:
        raise AuthError("This kiosk has been revoked; an admin must pair it again.")
    return kiosk


def health(kiosk: Kiosk, now: datetime) -> KioskHealth:
    if kiosk.revoked_at is not None:
        return "revoked"
    if kiosk.last_seen_at is None:
        return "never_seen"
    age = now - kiosk.last_seen_at
    if age <= ONLINE_WITHIN:
        return "online"
    return "stale" if age <= STALE_WITHIN else "offline"


def public(kiosk: Kiosk, *, server_model_id: str, now: datetime | None = None) -> KioskPublic:
    """The admin view of a kiosk, with its health and whether it runs the server's model."""
    return KioskPublic(
        id=kiosk.id,
        name=kiosk.name,
        created_at=kiosk.created_at,
        revoked_at=kiosk.revoked_at,
        last_seen_at=kiosk.last_seen_at,
        app_version=kiosk.app_version,
        model_id=kiosk.model_id,
        gallery_version=kiosk.gallery_version,
        queue_depth=kiosk.queue_depth,
        camera_state=kiosk.camera_state,
        clock_drift_s=kiosk.clock_drift_s,
        health=health(kiosk, now or utcnow()),
        model_matches=kiosk.model_id == server_model_id,
        gallery_synced_at=kiosk.gallery_synced_at,
        gallery_people=kiosk.gallery_people,
        gallery_templates=kiosk.gallery_templates,
        gallery_meetings=[HeldMeeting.model_validate(m) for m in kiosk.gallery_meetings],
    )


@dataclass(frozen=True)
class HeartbeatResult:
    server_time: datetime
    clock_drift_s: float

    @property
    def drift_flag(self) -> bool:
        return abs(self.clock_drift_s) > MAX_CLOCK_DRIFT_S


def record_heartbeat(session: Session, kiosk: Kiosk, report: HeartbeatRequest) -> HeartbeatResult:
    """Store what the kiosk reports; the drift is measured here, against the server clock."""
    now = utcnow()
    drift = round((report.device_time - now).total_seconds(), 3)
    kiosk.last_seen_at = now
    kiosk.app_version = report.app_version
    kiosk.model_id = report.model_id
    kiosk.gallery_version = report.gallery_version
    kiosk.queue_depth = report.queue_depth
    kiosk.camera_state = report.camera_state
    kiosk.clock_drift_s = drift
    session.flush()
    return HeartbeatResult(now, drift)
