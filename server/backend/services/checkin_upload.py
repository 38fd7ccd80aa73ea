"""Kiosk check-in upload: batches of check-ins with client-generated idempotency keys.

Each item is its own transaction: its attendance record (if any) and its idempotency
key are committed together, so a key never exists without its result, and a bad item
cannot undo the good ones before it. A key seen before returns the result stored with
it the first time; the same key with another payload is refused and changes nothing.

Concurrency: the same batch sent from several connections at once races on the key's
primary key (and on the one-approved-record index). The loser's insert fails, its
transaction rolls back, and the item is run again, which then finds the winner's key
(or approved record) and returns the winner's result. So each check-in is stored
exactly once. The rerun replaces a savepoint per item, which would cost two more
round trips to the database on every check-in.

The server decides the status itself from the similarity and margin, with the face
engine's bands: accept -> approved, review -> pending_review, reject -> refused. The
similarity is the server's own: the face-service embeds every face crop of the batch
in batched model runs before any item is stored (see `kiosk_rescore`); when it cannot,
the whole batch answers 503 and the kiosk sends it again, so nothing is lost.

Time: a check-in dated outside the meeting's window (before it started, after it
ended) is refused. One that reaches the server more than LATE_UPLOAD_GRACE after the
meeting ended is kept but never approved on its own: a queued backlog is genuine, but
its date is only the kiosk's word, so an admin confirms it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.inference.matching import DEFAULT_THRESHOLDS, Band, Thresholds, band_for
from server.backend.errors import AuthError
from server.backend.kiosk_schemas import KioskCheckinItem, KioskCheckinResult
from server.backend.models import CheckinAttempt, Kiosk, KioskCheckin, Meeting, Member, utcnow
from server.backend.security.badges import BadgeSigner
from server.backend.security.templates import TemplateCipher
from server.backend.services import attempts, attendance, badges, kiosk_rescore
from server.face_service.schemas import AlignedEmbedding

# A queued check-in reaching the server this long after its meeting ended waits for an
# admin instead of being approved: long enough for a kiosk's ordinary upload cycle.
LATE_UPLOAD_GRACE = timedelta(minutes=15)
# Slack on the window's start for a device clock within the flagged drift.
WINDOW_SLACK = timedelta(seconds=attendance.MAX_CLOCK_DRIFT_S)
REUSED_KEY = "idempotency key reused with a different payload"
# Called with each newly stored check-in, after its commit.
OnRecorded = Callable[[attendance.CheckinOutcome], None]
# The face-service's own embedding of each aligned crop, in order (batched inside).
EmbedCrops = Callable[[Sequence[str]], list[AlignedEmbedding]]


class ItemRefusedError(Exception):
    """One item cannot be recorded; the message is the reason returned for it."""

    suspicious = False


class SuspiciousItemError(ItemRefusedError):
    """Refused, and worth an admin's look (a replayed template)."""

    suspicious = True


@dataclass(frozen=True)
class Upload:
    """Everything one batch is checked against."""

    session: Session
    kiosk: Kiosk
    signer: BadgeSigner
    model_id: str
    # Device clock minus server clock, when known (batch `sent_at`, else the heartbeat).
    clock_drift_s: float | None
    thresholds: Thresholds = DEFAULT_THRESHOLDS
    # Opens the member's templates, to re-score each item on the server.
    cipher: TemplateCipher | None = None
    # Embeds the items' face crops (the face-service); without it no item is approved.
    embed_crops: EmbedCrops | None = None
    # Refused check-ins recorded as attempts, for the caller to announce after the batch.
    refusals: list[CheckinAttempt] = field(default_factory=list)
    # The server's embedding of each item's crop (or why it has none), by key.
    embedded: dict[str, AlignedEmbedding] = field(default_factory=dict)


def payload_hash(item: KioskCheckinItem) -> str:
    """SHA-256 of the item's canonical JSON, key excluded.

    An absent probe or face is left out, so items sent before they existed keep their hash.
    """
    excluded = {"key"} | {name for name in ("probe", "face") if getattr(item, name) is None}
    canonical = json.dumps(
        item.model_dump(mode="json", exclude=excluded), sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _refused(key: str, reason: str) -> KioskCheckinResult:
    return KioskCheckinResult(key=key, result="refused", reason=reason)


def _invalid(raw: dict[str, Any], exc: ValidationError) -> KioskCheckinResult:
    key = raw.get("key")
    where = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'item'}: {e['msg']}" for e in exc.errors()[:5]
    )
    return _refused(key if isinstance(key, str) else "", f"invalid item: {where}")


@contextmanager
def batch_session(engine: Engine) -> Iterator[Session]:
    """A session that keeps one connection for the whole batch.

    A session bound to the engine hands its connection back to the pool at every
    commit, and each item commits: a reset, a pre-ping and a checkout per check-in,
    which cost more than the check-in itself.
    """
    with (
        engine.connect() as connection,
        Session(bind=connection, expire_on_commit=False) as session,
    ):
        yield session


def upload_batch(
    upload: Upload, items: list[Any], *, on_recorded: OnRecorded | None = None
) -> list[KioskCheckinResult]:
    """Per-item results in the order of `items`; good items are stored whatever the rest."""
    checked: list[KioskCheckinItem | KioskCheckinResult] = [_validated(raw) for raw in items]
    valid = [c for c in checked if isinstance(c, KioskCheckinItem)]
    seen, _loaded = _prefetch(upload, valid)
    _embed_faces(upload, [item for item in valid if item.key not in seen])
    results = []
    for entry in checked:
        if isinstance(entry, KioskCheckinResult):
            results.append(entry)
            continue
        result, outcome = _with_retry(upload, entry, seen.get(entry.key))
        if outcome is not None and on_recorded is not None:
            on_recorded(outcome)
        results.append(result)
    return results


def _validated(raw: Any) -> KioskCheckinItem | KioskCheckinResult:
    """The item, or its refusal when it is malformed."""
    if not isinstance(raw, dict):
        return _refused("", "invalid item: an item must be a JSON object")
    try:
        return KioskCheckinItem.model_validate(raw)
    except ValidationError as exc:
        return _invalid(raw, exc)


def _embed_faces(upload: Upload, items: list[KioskCheckinItem]) -> None:
    """The server's own embedding of every new item's crop, before anything is stored.

    Raises the face-service's errors (503 when it is down): the batch is then sent
    again later, whole, instead of being recorded without the server's evidence.
    """
    faces = [(item.key, item.face) for item in items if item.face is not None]
    if not faces or upload.embed_crops is None:
        return
    results = upload.embed_crops([face for _key, face in faces])
    upload.embedded.update(zip((key for key, _face in faces), results, strict=True))


def _prefetch(
    upload: Upload, items: list[KioskCheckinItem]
) -> tuple[dict[str, KioskCheckin], list[Member | Meeting]]:
    """Keys already stored, in one query; members and meetings into the identity map.

    Three queries per batch instead of three per item. The identity map holds objects
    weakly, so the caller keeps the returned members and meetings alive for the batch.
    What was read here may be stale by the time an item is stored; a stale read ends
    in an IntegrityError, and the rerun reads afresh.
    """
    if not items:
        return {}, []
    session = upload.session
    query = select(KioskCheckin).where(
        KioskCheckin.kiosk_id == upload.kiosk.id, KioskCheckin.key.in_({i.key for i in items})
    )
    seen = {row.key: row for row in session.scalars(query)}
    loaded: list[Member | Meeting] = []
    loaded += session.scalars(select(Member).where(Member.id.in_({i.member_id for i in items})))
    loaded += session.scalars(select(Meeting).where(Meeting.id.in_({i.meeting_id for i in items})))
    return seen, loaded


def _with_retry(
    upload: Upload, item: KioskCheckinItem, seen: KioskCheckin | None
) -> tuple[KioskCheckinResult, attendance.CheckinOutcome | None]:
    """Run the item; after losing a race, run it once more to read the winner's result."""
    digest = payload_hash(item)
    if seen is not None:
        return _earlier(item, digest, seen), None
    for attempt in range(2):
        noted = len(upload.refusals)
        try:
            return _store_once(upload, item, digest, look_up=attempt > 0)
        except IntegrityError:
            upload.session.rollback()
            del upload.refusals[noted:]  # rolled back with the rest
    # Not stored: the kiosk keeps the item and sends it again.
    return _refused(item.key, "the check-in collided with another one; send it again"), None


def _earlier(item: KioskCheckinItem, digest: str, seen: KioskCheckin) -> KioskCheckinResult:
    """The stored result of a key sent before, unless the payload changed."""
    if seen.payload_hash != digest:
        return _refused(item.key, REUSED_KEY)
    return KioskCheckinResult.model_validate(seen.result)


def _store_once(
    upload: Upload, item: KioskCheckinItem, digest: str, *, look_up: bool
) -> tuple[KioskCheckinResult, attendance.CheckinOutcome | None]:
    session = upload.session
    if look_up:
        seen = session.get(KioskCheckin, (upload.kiosk.id, item.key), populate_existing=True)
        if seen is not None:
            return _earlier(item, digest, seen), None
    outcome: attendance.CheckinOutcome | None = None
    try:
        outcome = _record(upload, item)
    except ItemRefusedError as exc:
        result = _refused(item.key, str(exc))
        _note_refusal(upload, item, str(exc), suspicious=exc.suspicious)
    else:
        result = KioskCheckinResult(
            key=item.key,
            result=outcome.result,
            record_id=outcome.record.id,
            status=outcome.record.status,
            late=outcome.record.late,
        )
    session.add(
        KioskCheckin(
            kiosk_id=upload.kiosk.id,
            key=item.key,
            payload_hash=digest,
            result=result.model_dump(mode="json"),
            record_id=result.record_id,
        )
    )
    session.commit()
    return result, outcome if outcome and outcome.result == "recorded" else None


def _note_refusal(
    upload: Upload, item: KioskCheckinItem, reason: str, *, suspicious: bool = False
) -> None:
    """Keep a refused check-in of a known meeting for admins (committed with its key)."""
    session = upload.session
    if session.get(Meeting, item.meeting_id) is None:
        return
    known = session.get(Member, item.member_id) is not None
    row = attempts.record(
        session,
        meeting_id=item.meeting_id,
        channel="kiosk",
        outcome="suspicious" if suspicious else "refused",
        reason=reason,
        member_id=item.member_id if known else None,
        similarity=item.similarity,
        kiosk_id=upload.kiosk.id,
    )
    upload.refusals.append(row)


def _record(upload: Upload, item: KioskCheckinItem) -> attendance.CheckinOutcome:
    """Re-check what the server can, decide the status, and record the check-in."""
    if item.model_id != upload.model_id:
        raise ItemRefusedError(
            f"made with recogniser {item.model_id}, but the server uses {upload.model_id}; "
            "update the kiosk's model and sync its gallery again"
        )
    meeting = upload.session.get(Meeting, item.meeting_id)
    if meeting is None:
        raise ItemRefusedError("no such meeting")
    if meeting.kiosk_ids and str(upload.kiosk.id) not in meeting.kiosk_ids:
        raise ItemRefusedError(
            "this kiosk does not serve this meeting (an admin lists the kiosks that do)"
        )
    if item.method == "badge_face":
        _check_badge(upload, item)
    late_upload = _check_window(upload, item, meeting)
    scored = _rescored(upload, item)
    status = _status(upload.thresholds, item, scored)
    if late_upload:
        status = "pending_review"
    try:
        return attendance.record_checkin(
            upload.session,
            meeting=meeting,
            member_id=item.member_id,
            method=item.method,
            status=status,
            similarity=scored.similarity,
            margin=scored.margin if scored.margin is not None else item.margin,
            kiosk_id=upload.kiosk.id,
            device_time=item.device_time,
            clock_drift_s=upload.clock_drift_s,
            accept_ended=True,
            isolate_race=False,
        )
    except attendance.CheckinRefusedError as exc:
        raise ItemRefusedError(exc.message) from None


def _check_badge(upload: Upload, item: KioskCheckinItem) -> None:
    if not item.badge:
        raise ItemRefusedError("a badge check-in must carry the scanned badge")
    try:
        badges.check(upload.session, upload.signer, item.badge, member_id=item.member_id)
    except AuthError as exc:
        raise ItemRefusedError(exc.message) from None


def _check_window(upload: Upload, item: KioskCheckinItem, meeting: Meeting) -> bool:
    """Refuse a check-in dated outside the meeting; True when it arrived too late to be
    approved without an admin (see the module docstring)."""
    when = attendance.timing(device_time=item.device_time, clock_drift_s=upload.clock_drift_s)
    # Scheduled or started, whichever was first: a kiosk may open on the schedule.
    opened = min(meeting.starts_at, meeting.started_at or meeting.starts_at)
    if when.occurred_at < opened - WINDOW_SLACK:
        raise ItemRefusedError(
            "the check-in is dated before the meeting started; check the kiosk's clock"
        )
    if meeting.ended_at is not None and when.occurred_at > meeting.ended_at:
        raise ItemRefusedError(f"The meeting is {meeting.status}; it is not taking check-ins.")
    return meeting.ended_at is not None and utcnow() > meeting.ended_at + LATE_UPLOAD_GRACE


def _server_embedding(upload: Upload, item: KioskCheckinItem) -> NDArray[np.float32] | None:
    """The face-service's embedding of the item's crop; refused when it could not make one."""
    embedded = upload.embedded.get(item.key)
    if embedded is None:
        return None
    if embedded.embedding is None:
        raise ItemRefusedError(f"the face crop cannot be used: {embedded.error}")
    return np.asarray(embedded.embedding, dtype=np.float32)


def _rescored(upload: Upload, item: KioskCheckinItem) -> kiosk_rescore.Rescored:
    if upload.cipher is None:
        return kiosk_rescore.Rescored(None, None)
    try:
        embedded = _server_embedding(upload, item)
        return kiosk_rescore.rescore(upload.session, upload.cipher, upload.model_id, item, embedded)
    except kiosk_rescore.RescoreError as exc:
        error = SuspiciousItemError if exc.suspicious else ItemRefusedError
        raise error(str(exc)) from None


def _status(thresholds: Thresholds, item: KioskCheckinItem, scored: kiosk_rescore.Rescored) -> str:
    """The face engine's decision, made from the server's own similarity and margin.

    Without the server's embedding of a crop there is no evidence of the server's: at
    best review (the probe may still refuse), a person decides.
    """
    if scored.similarity is None:
        return "pending_review"
    band = band_for(scored.similarity, thresholds)
    if band is Band.REJECT:
        raise ItemRefusedError(
            f"the face is not similar enough (similarity {scored.similarity:.2f} on the "
            "server); try again"
        )
    # 1:1 badge checks have no second person; a close second person needs a reviewer.
    margins = [m for m in (scored.margin, item.margin) if m is not None]
    close_call = any(m < thresholds.margin for m in margins)
    if band is Band.ACCEPT and not close_call and scored.evidence:
        return "approved"
    return "pending_review"
