"""Kiosk check-in upload: batches of check-ins with client-generated idempotency keys.

Each item is its own transaction: its attendance record (if any) and its idempotency
key are committed together, so a key never exists without its result, and a bad item
cannot undo the good ones before it. A key seen before returns the result stored with
it the first time; the same key with another payload is refused and changes nothing.

Concurrency: the same batch sent from several connections at once races on the key's
primary key (and on the one-approved-record index). The loser's insert fails, its
transaction rolls back, and the item is run again, which then finds the winner's key
and returns the winner's result. So each check-in is stored exactly once.

The server decides the status itself from the similarity and margin, with the face
engine's bands: accept -> approved, review -> pending_review, reject -> refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.inference.matching import DEFAULT_THRESHOLDS, Band, Thresholds, band_for
from server.backend.errors import AuthError
from server.backend.kiosk_schemas import KioskCheckinItem, KioskCheckinResult
from server.backend.models import Kiosk, KioskCheckin, Meeting
from server.backend.security.badges import BadgeSigner
from server.backend.services import attendance, badges

REUSED_KEY = "idempotency key reused with a different payload"
# Called with each newly stored check-in, after its commit.
OnRecorded = Callable[[attendance.CheckinOutcome], None]


class ItemRefusedError(Exception):
    """One item cannot be recorded; the message is the reason returned for it."""


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


def payload_hash(item: KioskCheckinItem) -> str:
    """SHA-256 of the item's canonical JSON, key excluded."""
    canonical = json.dumps(
        item.model_dump(mode="json", exclude={"key"}), sort_keys=True, separators=(",", ":")
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


def upload_batch(
    upload: Upload, items: list[Any], *, on_recorded: OnRecorded | None = None
) -> list[KioskCheckinResult]:
    """Per-item results in the order of `items`; good items are stored whatever the rest."""
    results = []
    for raw in items:
        if not isinstance(raw, dict):
            results.append(_refused("", "invalid item: an item must be a JSON object"))
            continue
        try:
            item = KioskCheckinItem.model_validate(raw)
        except ValidationError as exc:
            results.append(_invalid(raw, exc))
            continue
        result, outcome = _with_retry(upload, item)
        if outcome is not None and on_recorded is not None:
            on_recorded(outcome)
        results.append(result)
    return results


def _with_retry(
    upload: Upload, item: KioskCheckinItem
) -> tuple[KioskCheckinResult, attendance.CheckinOutcome | None]:
    """Run the item; after losing a race, run it once more to read the winner's result."""
    digest = payload_hash(item)
    for _attempt in range(2):
        try:
            return _store_once(upload, item, digest)
        except IntegrityError:
            upload.session.rollback()
    # Not stored: the kiosk keeps the item and sends it again.
    return _refused(item.key, "the check-in collided with another one; send it again"), None


def _store_once(
    upload: Upload, item: KioskCheckinItem, digest: str
) -> tuple[KioskCheckinResult, attendance.CheckinOutcome | None]:
    session = upload.session
    seen = session.get(KioskCheckin, (upload.kiosk.id, item.key), populate_existing=True)
    if seen is not None:
        if seen.payload_hash != digest:
            return _refused(item.key, REUSED_KEY), None
        return KioskCheckinResult.model_validate(seen.result), None
    outcome: attendance.CheckinOutcome | None = None
    try:
        outcome = _record(upload, item)
    except ItemRefusedError as exc:
        result = _refused(item.key, str(exc))
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
    if item.method == "badge_face":
        _check_badge(upload, item)
    status = _status(upload.thresholds, item)
    try:
        return attendance.record_checkin(
            upload.session,
            meeting=meeting,
            member_id=item.member_id,
            method=item.method,
            status=status,
            similarity=item.similarity,
            margin=item.margin,
            kiosk_id=upload.kiosk.id,
            device_time=item.device_time,
            clock_drift_s=upload.clock_drift_s,
            accept_ended=True,
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


def _status(thresholds: Thresholds, item: KioskCheckinItem) -> str:
    """The face engine's decision, re-made from the reported similarity and margin."""
    band = band_for(item.similarity, thresholds)
    if band is Band.REJECT:
        raise ItemRefusedError(
            f"the face is not similar enough (similarity {item.similarity:.2f}); try again"
        )
    # 1:1 badge checks have no second person; a close second person needs a reviewer.
    close_call = item.margin is not None and item.margin < thresholds.margin
    if band is Band.ACCEPT and not close_call:
        return "approved"
    return "pending_review"
