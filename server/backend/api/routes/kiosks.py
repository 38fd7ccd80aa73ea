"""Kiosk devices (`/api/kiosks`): pairing, listing with health, renaming, revocation.

Pairing either way ends with a device credential the kiosk keeps in its OS keyring:
an admin creates a one-time code that the kiosk exchanges at `/pair`, or an admin
signed in on the kiosk pairs it directly. Every admin action here is audited.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from sqlalchemy.orm import Session

from server.backend.api.deps import BackendDep, ClientIp, CurrentAdmin, SessionDep
from server.backend.api.kiosk_deps import KioskCredentialsDep
from server.backend.core.security.kiosk_tokens import BOUND_CREDENTIAL_TTL
from server.backend.crud import audit
from server.backend.errors import TooManyRequestsError
from server.backend.models import Admin, Kiosk
from server.backend.schemas.kiosk import (
    KioskCreate,
    KioskPaired,
    KioskPublic,
    KioskUpdate,
    PairingCodePublic,
    PairRequest,
)
from server.backend.schemas.resources import Message
from server.backend.services import device_secrets, kiosks

router = APIRouter(prefix="/kiosks", tags=["kiosks"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Message}}


def _audit(
    session: Session, actor: Admin | None, action: str, kiosk: Kiosk, ip: str, **details: str
) -> None:
    audit.record(
        session=session,
        actor=actor,
        action=action,
        target_type="kiosk",
        target_id=kiosk.id,
        details={"name": kiosk.name, **details},
        client_ip=ip,
    )


def _paired(
    backend: BackendDep, kiosk: Kiosk, credentials: KioskCredentialsDep, secret: str
) -> KioskPaired:
    model_id = backend.face_model.model_id
    return KioskPaired(
        kiosk=kiosks.public(kiosk, server_model_id=model_id),
        credential=credentials.issue(kiosk.id, ttl=BOUND_CREDENTIAL_TTL),
        model_id=model_id,
        device_secret=secret,
    )


@router.post("/pairing-codes", status_code=status.HTTP_201_CREATED)
def create_pairing_code(
    body: KioskCreate, backend: BackendDep, session: SessionDep, actor: CurrentAdmin, ip: ClientIp
) -> PairingCodePublic:
    """A one-time code (valid ten minutes) that pairs one kiosk; it is shown only now."""
    code = kiosks.create_pairing_code(backend.once, name=body.name, by=actor)
    audit.record(
        session=session,
        actor=actor,
        action="kiosk.pairing_code",
        target_type="kiosk",
        details={"name": body.name},
        client_ip=ip,
    )
    session.commit()
    return PairingCodePublic(code=code.code, name=code.name, expires_at=code.expires_at)


@router.post(
    "/pair",
    status_code=status.HTTP_201_CREATED,
    responses={401: {"model": Message}, 403: {"model": Message}, 429: {"model": Message}},
)
def pair_with_code(
    request: Request,
    body: PairRequest,
    *,
    backend: BackendDep,
    session: SessionDep,
    credentials: KioskCredentialsDep,
    ip: ClientIp,
) -> KioskPaired:
    """Exchange a pairing code for a device credential (the code then stops working)."""
    backend.throttle.consume("kiosk-pair", ip, kiosks.PAIR_PER_CLIENT)
    try:
        backend.throttle.consume(
            "kiosk-pair-code", kiosks.code_digest(body.code), kiosks.PAIR_PER_CODE
        )
        backend.throttle.consume("kiosk-pair-all", "server", kiosks.PAIR_PER_SERVER)
    except TooManyRequestsError as exc:
        raise TooManyRequestsError(kiosks.PAIR_SHUT, retry_after=exc.retry_after) from None
    settings = backend.settings
    if settings.is_production and not settings.allow_http_pairing and request.url.scheme != "https":
        kiosks.refuse_plain_http(backend.once, body.code)
    name, admin_id = kiosks.redeem_pairing_code(backend.once, body.code)
    creator = session.get(Admin, admin_id)
    kiosk = kiosks.create_kiosk(session, name=name, by_id=creator.id if creator else None)
    secret = device_secrets.bind(kiosk)
    _audit(session, creator, "kiosk.pair", kiosk, ip, via="pairing code")
    session.commit()
    return _paired(backend, kiosk, credentials, secret)


@router.post("", status_code=status.HTTP_201_CREATED)
def pair_directly(
    body: KioskCreate,
    *,
    backend: BackendDep,
    session: SessionDep,
    credentials: KioskCredentialsDep,
    actor: CurrentAdmin,
    ip: ClientIp,
) -> KioskPaired:
    """Pair the kiosk an admin is signed in on, without a code."""
    kiosk = kiosks.create_kiosk(session, name=body.name, by_id=actor.id)
    secret = device_secrets.bind(kiosk)
    _audit(session, actor, "kiosk.pair", kiosk, ip, via="signed-in admin")
    session.commit()
    return _paired(backend, kiosk, credentials, secret)


@router.get("")
def list_kiosks(
    backend: BackendDep,
    session: SessionDep,
    _admin: CurrentAdmin,
    include_revoked: Annotated[bool, Query()] = False,
) -> list[KioskPublic]:
    """Kiosks by name, with health (online, stale, offline) and last-seen time."""
    model_id = backend.face_model.model_id
    rows = kiosks.list_kiosks(session, include_revoked=include_revoked)
    return [kiosks.public(k, server_model_id=model_id) for k in rows]


@router.get("/{kiosk_id}", responses=NOT_FOUND)
def get_kiosk(
    kiosk_id: uuid.UUID, backend: BackendDep, session: SessionDep, _admin: CurrentAdmin
) -> KioskPublic:
    kiosk = kiosks.get(session, kiosk_id)
    return kiosks.public(kiosk, server_model_id=backend.face_model.model_id)


@router.patch("/{kiosk_id}", responses=NOT_FOUND)
def rename_kiosk(
    kiosk_id: uuid.UUID,
    body: KioskUpdate,
    *,
    backend: BackendDep,
    session: SessionDep,
    actor: CurrentAdmin,
    ip: ClientIp,
) -> KioskPublic:
    kiosk = kiosks.get(session, kiosk_id)
    old_name, kiosk.name = kiosk.name, body.name
    _audit(session, actor, "kiosk.rename", kiosk, ip, old_name=old_name)
    session.commit()
    return kiosks.public(kiosk, server_model_id=backend.face_model.model_id)


@router.post("/{kiosk_id}/revoke", responses=NOT_FOUND)
def revoke_kiosk(
    kiosk_id: uuid.UUID, backend: BackendDep, session: SessionDep, actor: CurrentAdmin, ip: ClientIp
) -> KioskPublic:
    """Refuse the kiosk's credential from its next request on; it must pair again."""
    kiosk = kiosks.get(session, kiosk_id)
    if kiosks.revoke(session, kiosk):
        _audit(session, actor, "kiosk.revoke", kiosk, ip)
        session.commit()
    return kiosks.public(kiosk, server_model_id=backend.face_model.model_id)
