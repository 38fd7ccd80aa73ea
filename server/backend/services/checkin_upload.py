"""Kiosk check-in upload: batches of check-ins with client-generated idempotency keys.

A batch is one transaction: each item's attendance record (if any) and its idempotency
key are committed together, so a key never exists without its result. One commit per
batch instead of one per item: each commit waits for the database's disk flush, and
per-item commits made ingest wait on the disk more than it worked. A refused item
writes only its refusal, so it cannot undo the good items beside it. A key seen before
returns the result stored with it the first time; the same key with another payload is
refused and changes nothing.

Concurrency: the same batch sent from several connections at once races on the key's
primary key (and on the one-approved-record index). The loser's insert fails (or the
database breaks a deadlock between two batches); its transaction rolls back and the
batch is run again item by item, each item its own transaction, which then finds the
winner's key (or approved record) and returns the winner's result. So each check-in
is stored exactly once. The rerun replaces a savepoint per item, which would cost two
more round trips to the database on every check-in.

Every final refusal is kept for admins (`kiosk_refusals`): an item refused while being
stored is kept in the item's transaction, a malformed item or a reused key once the
batch is done. "Send it again" answers are not final and are not kept.

The server decides the status itself from the similarity and margin, with the face
engine's bands: accept -> approved, review -> pending_review, reject -> refused. The
similarity is the server's own: the face-service embeds every face crop of the batch
in batched model runs before any item is stored (see `kiosk_rescore`); when it cannot,
the whole batch answers 503 and the kiosk sends it again, so nothing is lost.

Time: a check-in dated outside the meeting's window (before it started, after it
ended) is refused. One that reaches the server more than LATE_UPLOAD_GRACE after the
meeting ended is kept but never approved on its own: a queued backlog is genuine, but
its date is only the kiosk's word, so an admin confirms it.

A meeting that expects nobody takes no face check-in, but a kiosk of the release before
`expects_everyone` reads its empty list as everyone and sends what it recognised. Such
an item is kept, never approved: it waits in the review queue with a reason saying why
(`NOBODY_EXPECTED`), and its key answers the same whenever it is sent again.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from kiosk.inference import DEFAULT_THRESHOLDS, Band, Thresholds, band_for
from server.backend.core.security.badges import BadgeSigner
from server.backend.core.security.templates import TemplateCipher
from server.backend.errors import (
    AuthError,
    CheckinRefusedError,
    ItemRefusedError,
    RescoreError,
    SuspiciousItemError,
)
from server.backend.models import (
    AttendanceRecord,
    CheckinAttempt,
    Kiosk,
    KioskCheckin,
    Meeting,
    Member,
    utcnow,
)
from server.backend.schemas.kiosk import KioskCheckinItem, KioskCheckinResult
from server.backend.services import attempts, attendance, badges, kiosk_refusals, kiosk_rescore
from server.face_service.schemas import AlignedEmbedding

# A queued check-in reaching the server this long after its meeting ended waits for an
# admin instead of being approved: long enough for a kiosk's ordinary upload cycle.
LATE_UPLOAD_GRACE = timedelta(minutes=15)
# Slack on the window's start for a device clock within the flagged drift.
WINDOW_SLACK = timedelta(seconds=attendance.MAX_CLOCK_DRIFT_S)
REUSED_KEY = "idempotency key reused with a different payload"
# A kiosk from before `expects_everyone` reads a meeting's empty list as everyone.
NOBODY_EXPECTED = (
    "Not counted until a reviewer approves it: the meeting expects nobody by face (it "
    "lists no ministry or member and is not open to everyone), yet the kiosk recognised "
    "this person, as a kiosk of an earlier release or with an old gallery does."
)
# Called with each newly stored check-in, after its commit.
OnRecorded = Callable[[attendance.CheckinOutcome], None]
# The face-service's own embedding of each aligned crop, in order (batched inside).
EmbedCrops = Callable[[Sequence[str]], list[AlignedEmbedding]]


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
    """Per-item results in the order of `items`; good items are stored whatever the rest.

    `on_recorded` hears of each newly stored check-in once the batch is committed.
    """
    checked: list[KioskCheckinItem | KioskCheckinResult] = [_validated(raw) for raw in items]
    valid = [c for c in checked if isinstance(c, KioskCheckinItem)]
    seen, _loaded = _prefetch(upload, valid)
    _embed_faces(upload, [item for item in valid if item.key not in seen])
    try:
        results, recorded = _as_one_transaction(upload, items, checked, seen)
    except (IntegrityError, OperationalError):  # a lost race or a broken deadlock
        upload.session.rollback()
        upload.refusals.clear()  # rolled back with the rest
        results, recorded = _item_by_item(upload, items, checked, seen)
    if on_recorded is not None:
        for outcome in recorded:
            on_recorded(outcome)
    return results


Checked = list[KioskCheckinItem | KioskCheckinResult]
Outcomes = tuple[list[KioskCheckinResult], list[attendance.CheckinOutcome]]


class Staging:
    """What a one-transaction batch reads once for all its items instead of per item.

    The approved records of the batch's (meeting, member) pairs and the templates of its
    members: with them, and inserts left to one flush at the commit, an item costs the
    database no round trip of its own. Records approved earlier in the batch count too.
    """

    def __init__(self, upload: Upload, items: list[KioskCheckinItem]) -> None:
        session = upload.session
        query = select(AttendanceRecord).where(
            AttendanceRecord.status == "approved",
            AttendanceRecord.meeting_id.in_({i.meeting_id for i in items}),
            AttendanceRecord.member_id.in_({i.member_id for i in items}),
        )
        self._approved = {(r.meeting_id, r.member_id): r for r in session.scalars(query)}
        self.templates: kiosk_rescore.BatchTemplates | None = None
        scored = [i for i in items if i.probe is not None or i.face is not None]
        if upload.cipher is not None and scored:
            named = {i.member_id for i in scored}
            named |= {i.second_member_id for i in scored if i.second_member_id is not None}
            self.templates = kiosk_rescore.BatchTemplates(
                session, upload.cipher, upload.model_id, named
            )

    def approved(self, meeting_id: uuid.UUID, member_id: uuid.UUID) -> AttendanceRecord | None:
        return self._approved.get((meeting_id, member_id))

    def stored(self, outcome: attendance.CheckinOutcome) -> None:
        record = outcome.record
        if outcome.result == "recorded" and record.status == "approved":
            self._approved[(record.meeting_id, record.member_id)] = record


def _as_one_transaction(
    upload: Upload, items: list[Any], checked: Checked, seen: dict[str, KioskCheckin]
) -> Outcomes:
    """Every item staged in one transaction, committed once; raises on a lost race.

    Nothing is flushed before the commit unless an item asks (a refusal kept as an
    attempt), so the batch's records and keys go to the database in one insert each.
    """
    staging = Staging(upload, [c for c in checked if isinstance(c, KioskCheckinItem)])
    with upload.session.no_autoflush:
        return _staged_batch(upload, items, checked, seen, staging)


def _staged_batch(
    upload: Upload,
    items: list[Any],
    checked: Checked,
    seen: dict[str, KioskCheckin],
    staging: Staging,
) -> Outcomes:
    results: list[KioskCheckinResult] = []
    recorded: list[attendance.CheckinOutcome] = []
    unkept: list[tuple[Any, str]] = []  # refusals no item's rows keep
    staged: dict[str, tuple[str, KioskCheckinResult]] = {}  # key -> (digest, result)
    for raw, entry in zip(items, checked, strict=True):
        if isinstance(entry, KioskCheckinResult):
            results.append(entry)
            unkept.append((raw, str(entry.reason)))
            continue
        digest = payload_hash(entry)
        if entry.key in seen:
            result = _earlier(entry, digest, seen[entry.key])
        elif entry.key in staged:  # the same key twice in one batch
            first_digest, first = staged[entry.key]
            result = first if first_digest == digest else _refused(entry.key, REUSED_KEY)
        else:
            result, outcome = _stage(upload, entry, digest, staging)
            staged[entry.key] = (digest, result)
            if outcome is not None:
                recorded.append(outcome)
        if result.reason == REUSED_KEY:
            unkept.append((raw, REUSED_KEY))
        results.append(result)
    _keep_refusals(upload, unkept)
    upload.session.commit()
    return results, recorded


def _item_by_item(
    upload: Upload, items: list[Any], checked: Checked, seen: dict[str, KioskCheckin]
) -> Outcomes:
    """Each item in its own transaction, rerun once after a lost race (the slow path)."""
    results: list[KioskCheckinResult] = []
    recorded: list[attendance.CheckinOutcome] = []
    unkept: list[tuple[Any, str]] = []
    for raw, entry in zip(items, checked, strict=True):
        if isinstance(entry, KioskCheckinResult):
            results.append(entry)
            unkept.append((raw, str(entry.reason)))
            continue
        result, outcome = _with_retry(upload, entry, seen.get(entry.key))
        if outcome is not None:
            recorded.append(outcome)
        if result.reason == REUSED_KEY:
            unkept.append((raw, REUSED_KEY))
        results.append(result)
    _keep_refusals(upload, unkept)
    upload.session.commit()
    return results, recorded


def _keep_refusals(upload: Upload, refused: list[tuple[Any, str]]) -> None:
    """Add the batch's malformed items and reused keys for admins (the caller commits)."""
    for raw, reason in refused:
        kiosk_refusals.keep(
            upload.session, upload.kiosk, raw if isinstance(raw, dict) else {}, reason
        )


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
    """The item in its own transaction (after a lost race, `look_up` the winner first)."""
    if look_up:
        seen = upload.session.get(KioskCheckin, (upload.kiosk.id, item.key), populate_existing=True)
        if seen is not None:
            return _earlier(item, digest, seen), None
    staged = _stage(upload, item, digest)
    upload.session.commit()
    return staged


def _stage(
    upload: Upload, item: KioskCheckinItem, digest: str, staging: Staging | None = None
) -> tuple[KioskCheckinResult, attendance.CheckinOutcome | None]:
    """Record the item (or its refusal) with its key in the open transaction."""
    session = upload.session
    outcome: attendance.CheckinOutcome | None = None
    try:
        outcome = _record(upload, item, staging)
    except ItemRefusedError as exc:
        result = _refused(item.key, str(exc))
        _note_refusal(upload, item, str(exc), suspicious=exc.suspicious)
        kiosk_refusals.keep(session, upload.kiosk, item.model_dump(), str(exc))
    else:
        result = KioskCheckinResult(
            key=item.key,
            result=outcome.result,
            record_id=outcome.record.id,
            status=outcome.record.status,
            late=outcome.record.late,
            reason=outcome.record.review_reason or None,
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


def _record(
    upload: Upload, item: KioskCheckinItem, staging: Staging | None
) -> attendance.CheckinOutcome:
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
    scored = _rescored(upload, item, staging)
    status = _status(upload.thresholds, item, scored)
    reason = NOBODY_EXPECTED if attendance.expects_nobody(meeting) else ""
    if late_upload or reason:
        status = "pending_review"
    try:
        outcome = attendance.record_checkin(
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
            approved=staging.approved if staging is not None else None,
            review_reason=reason,
        )
    except CheckinRefusedError as exc:
        raise ItemRefusedError(exc.message) from None
    if staging is not None:
        staging.stored(outcome)
    return outcome


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


def _rescored(
    upload: Upload, item: KioskCheckinItem, staging: Staging | None
) -> kiosk_rescore.Rescored:
    if upload.cipher is None:
        return kiosk_rescore.Rescored(None, None)
    templates = staging.templates if staging is not None else None
    try:
        embedded = _server_embedding(upload, item)
        return kiosk_rescore.rescore(
            upload.session,
            upload.cipher,
            upload.model_id,
            item,
            templates=templates,
            embedded=embedded,
        )
    except RescoreError as exc:
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
