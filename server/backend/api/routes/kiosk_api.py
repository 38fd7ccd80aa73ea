"""What a paired kiosk calls (`/api/kiosk`): heartbeat, gallery sync, check-in upload,
badge keys. Every endpoint needs a kiosk credential; admin tokens do not work here."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from server.backend.api.deps import BackendDep, ClientIp, SessionDep
from server.backend.api.kiosk_deps import (
    BadgeSignerDep,
    CurrentKiosk,
    KioskCredentialsDep,
    SignedInKioskDep,
)
from server.backend.core.security.kiosk_tokens import BOUND_CREDENTIAL_TTL
from server.backend.crud import audit, gallery
from server.backend.errors import AuthError
from server.backend.models import utcnow
from server.backend.schemas.kiosk import (
    BadgeKey,
    BadgeKeys,
    CredentialRenewal,
    CredentialRenewed,
    GallerySync,
    HeartbeatReply,
    HeartbeatRequest,
    KioskCheckinBatch,
    KioskCheckinResults,
)
from server.backend.schemas.resources import NO_NUL, Message
from server.backend.services import (
    attempts,
    attendance,
    checkin_upload,
    device_secrets,
    kiosks,
    records,
    sync,
)

router = APIRouter(prefix="/kiosk", tags=["kiosk"])


@router.post("/heartbeat")
def heartbeat(
    body: HeartbeatRequest,
    backend: BackendDep,
    session: SessionDep,
    signed_in: SignedInKioskDep,
    credentials: KioskCredentialsDep,
) -> HeartbeatReply:
    """Report health; the answer gives the server's time, the measured drift and model."""
    result = kiosks.record_heartbeat(session, signed_in.kiosk, body)
    version = gallery.current_version(session=session)
    session.commit()
    model_id = backend.face_model.model_id
    # A kiosk bound to a device secret renews at /credential instead (the secret rotates).
    bound = signed_in.kiosk.secret_hash is not None
    renew = not bound and signed_in.claims.should_renew(credentials.now())
    return HeartbeatReply(
        server_time=result.server_time,
        clock_drift_s=result.clock_drift_s,
        clock_drift_flag=result.drift_flag,
        model_id=model_id,
        model_matches=body.model_id == model_id,
        gallery_version=version,
        credential=credentials.issue(signed_in.kiosk.id) if renew else None,
    )


@router.post("/credential", responses={401: {"model": Message}})
def renew_credential(
    body: CredentialRenewal,
    backend: BackendDep,
    session: SessionDep,
    credentials: KioskCredentialsDep,
    ip: ClientIp,
) -> CredentialRenewed:
    """A fresh day-long credential for the device secret, which is replaced by a new one.

    Keep both answers; the secret sent is spent. A spent secret sent again means a copy
    of the kiosk exists: the kiosk is revoked, the admins are emailed, and the real kiosk
    pairs again.
    """
    rotation = device_secrets.rotate(session, body.kiosk_id, body.device_secret)
    if rotation.secret is None:
        audit.record(
            session=session,
            actor=None,
            action="kiosk.revoke",
            target_type="kiosk",
            target_id=rotation.kiosk.id,
            details={"name": rotation.kiosk.name, "reason": "device secret reused"},
            client_ip=ip,
        )
        session.commit()
        device_secrets.tell_admins(session, backend.mailer, rotation.kiosk)
        raise AuthError(device_secrets.REUSED)
    session.commit()
    return CredentialRenewed(
        credential=credentials.issue(rotation.kiosk.id, ttl=BOUND_CREDENTIAL_TTL),
        device_secret=rotation.secret,
    )


@router.post("/checkins", responses={401: {"model": Message}, 503: {"model": Message}})
def upload_checkins(
    body: KioskCheckinBatch,
    *,
    backend: BackendDep,
    session: SessionDep,
    kiosk: CurrentKiosk,
    signer: BadgeSignerDep,
) -> KioskCheckinResults:
    """Store a batch of check-ins; resending a batch is safe and returns the first results.

    Every item gets its own result (`recorded`, `already_checked_in` or `refused` with a
    reason); the good items of a partly bad batch are stored.
    """
    drift = None
    if body.sent_at is not None:
        drift = (body.sent_at - utcnow()).total_seconds()
    # The kiosk row is loaded; the batch runs on a connection of its own (see
    # `batch_session`), so this session's connection goes back to the pool now.
    session.close()
    publish = records.record_publisher(backend.events)
    model_id = backend.face_model.model_id
    with checkin_upload.batch_session(backend.engine) as batch:
        upload = checkin_upload.Upload(
            session=batch,
            kiosk=kiosk,
            signer=signer,
            model_id=model_id,
            clock_drift_s=drift if drift is not None else kiosk.clock_drift_s,
            thresholds=backend.face_model.thresholds,
            cipher=backend.cipher,
            embed_crops=partial(backend.face_service.embed_aligned, model_id=model_id),
        )
        results = checkin_upload.upload_batch(
            upload, body.items, on_recorded=lambda outcome: attendance.announce(publish, [outcome])
        )
        for refusal in upload.refusals:
            attempts.announce(backend.store, batch, refusal)
    return KioskCheckinResults(results=results)


Digest = Annotated[str | None, Query(max_length=64, pattern=NO_NUL)]


@router.get(
    "/gallery",
    response_model=None,
    responses={200: {"model": GallerySync}, 401: {"model": Message}},
)
def gallery_sync(
    *,
    backend: BackendDep,
    session: SessionDep,
    kiosk: CurrentKiosk,
    since: Annotated[int, Query(ge=0, le=2**62)] = 0,
    scope: Digest = None,
    members: Digest = None,
    meetings: Digest = None,
) -> StreamingResponse:
    """Templates this kiosk needs since its gallery version (or a full snapshot): the
    people expected at the meetings it serves that are open or start within
    `GALLERY_LOOKAHEAD_HOURS`, and nobody else.

    Send back the `version`, `scope`, `members_digest` and `meetings_digest` of the
    previous answer; `full: true` means replace the whole local gallery with this
    answer's templates. Streamed, and gzip-compressed for clients that accept it.
    """
    answer = sync.gallery_for_kiosk(
        session,
        model_id=backend.face_model.model_id,
        since=since,
        kiosk_scope=scope,
        kiosk=kiosk,
        lookahead=timedelta(hours=backend.settings.gallery_lookahead_hours),
        members_digest=members,
        meetings_digest=meetings,
    )
    session.commit()  # what the kiosk now holds, for the admins' Kiosks screen
    session.close()  # the templates stream on a connection of their own
    return StreamingResponse(
        sync.stream_answer(backend.engine, backend.cipher, answer),
        media_type="application/json",
    )


@router.get("/badge-keys", responses={401: {"model": Message}})
def badge_keys(_kiosk: CurrentKiosk, signer: BadgeSignerDep) -> BadgeKeys:
    """The public keys that verify member badges offline, current key first."""
    keys = signer.public_keys()
    ordered = [signer.key_id, *(kid for kid in keys if kid != signer.key_id)]
    return BadgeKeys(
        keys=[BadgeKey(kid=kid, algorithm="Ed25519", public_key=keys[kid]) for kid in ordered]
    )
