"""Phone self check-in: a scanned meeting QR ticket, a claimed identity and a selfie.

Cheap checks come first: the ticket, then the size and pixels of the selfie and of every
head-turn frame from their headers,
then the attempt is reserved per ticket and per client (`phone_guard`); only then does
the face-service embed the selfie. The backend compares it with the claimed member's
templates and with the best template of anyone else, with the kiosk's bands and margin
(`kiosk.inference.matching.decide`).

Every identity refusal (unknown person, not expected, nothing enrolled, another face)
gets one answer, decided after the face work, with no similarity: the public flow
reveals neither who is enrolled nor how close a face came. Refusals are kept for
admins (`attempts`). A ticket is used when a check-in is stored, or spent after its
tries.

A reported position is recorded and flagged against the meeting's radius, but it is
the phone's claim, so it never decides a check-in on its own.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.inference import Band, Embedding, MatchDecision, decide, describe
from server.backend.core.context import Backend
from server.backend.crud import members as members_crud
from server.backend.crud import templates as templates_crud
from server.backend.errors import BadRequestError, ConflictError, NotFoundError
from server.backend.models import AttendanceRecord, Meeting, Member, utcnow
from server.backend.schemas.attempts import AttemptOutcome
from server.backend.services import (
    attempts,
    attendance,
    evidence,
    meeting_qr,
    phone_guard,
    phone_liveness,
    phone_video,
    records,
    uploads,
)
from server.backend.services.attendance import CheckinOutcome
from server.face_service.schemas import EmbedResponse

logger = logging.getLogger(__name__)

SELFIE_MAX_BYTES = uploads.SELFIE.max_bytes
NOT_LISTED = (
    "You are not on the list of people expected at this meeting, so you cannot check in "
    "to it. Ask the admin running the meeting to add you (or your ministry) to its "
    "expected people, then scan the meeting code again."
)
EARTH_RADIUS_M = 6_371_000.0


@dataclass(frozen=True)
class Position:
    latitude: float
    longitude: float
    accuracy_m: float | None = None


@dataclass(frozen=True)
class PhoneAttempt:
    """What the phone sent: its ticket, who it claims to be, the selfie, maybe a position."""

    ticket: str
    selfie: bytes
    member_id: uuid.UUID | None = None
    email: str | None = None
    # The code printed on the badge, for members without an email.
    member_code: str | None = None
    position: Position | None = None
    client_ip: str = ""
    # Frames of the head moves the ticket asked, and their times (s; the selfie's first).
    turn: tuple[bytes, ...] = ()
    times_s: tuple[float, ...] | None = None
    # A random id the page keeps on the phone: ties a member's own failed tries together.
    device: str = ""
    # A selfie video from the phone's camera app, instead of the selfie and the burst.
    video: Path | None = None
    # The selfie and the burst were taken from such a video (the advice differs).
    from_video: bool = False


@dataclass(frozen=True)
class PhoneResult:
    """`outcome` is None when the check-in was refused (see `tries_left`).

    `earlier_refusals` counts refused check-ins as this member before this one.
    """

    outcome: CheckinOutcome | None
    tries_left: int
    earlier_refusals: int = 0
    # What to tell the person when the head-turn challenge failed (it says nothing of
    # who is enrolled: it compares the burst with the selfie only).
    refusal: str = ""
    # Whose check-in it is: set only once the face matched the person named.
    full_name: str = ""


def distance_m(a: Position, latitude: float, longitude: float) -> float:
    """Great-circle (haversine) distance in metres."""
    phi1, phi2 = math.radians(a.latitude), math.radians(latitude)
    dphi, dlambda = phi2 - phi1, math.radians(longitude - a.longitude)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, h)))


def location_flag(meeting: Meeting, position: Position | None) -> str:
    """inside / outside the meeting's radius, unknown without a position, "" without a place."""
    if meeting.latitude is None or meeting.longitude is None:
        return ""
    if position is None:
        return "unknown"
    inside = distance_m(position, meeting.latitude, meeting.longitude) <= meeting.radius_m
    return "inside" if inside else "outside"


def _claimed_member(session: Session, attempt: PhoneAttempt) -> Member | None:
    """The member the phone says it is, or None; refusal waits until after the face work."""
    if attempt.member_id is not None:
        return session.get(Member, attempt.member_id)
    if attempt.email:
        query = select(Member).where(func.lower(Member.email) == attempt.email.strip().lower())
        return session.scalars(query).first()
    if attempt.member_code:
        return members_crud.by_code(session=session, code=attempt.member_code)
    raise BadRequestError(
        "Say who is checking in: send your email or the member code on your badge."
    )


def match(
    backend: Backend, session: Session, member: Member, probe: NDArray[np.float32]
) -> MatchDecision:
    """The claimed member against the best other person: bands and margin as on the kiosk.

    Both come from the backend's in-memory gallery (`face_gallery`): the claimed
    member's own rows only, then one search for the best other person.
    """
    model_id = backend.face_model.model_id
    gallery = backend.galleries.for_model(model_id).current(session)
    embedding = Embedding(probe, model_id)
    own = gallery.verify(embedding, str(member.id))
    if own is None:
        return MatchDecision(Band.REJECT, None, None, "nothing enrolled")
    others = [c for c in gallery.search(embedding, k=2) if c.person_id != own.person_id]
    candidates = sorted([own, *others[:1]], key=lambda c: c.similarity, reverse=True)
    # A claimed identity is a 1:1 check, so the thresholds are not raised for gallery size.
    thresholds = backend.face_model.thresholds
    decision = decide(candidates, thresholds)
    if decision.best is not None and decision.best.person_id != str(member.id):
        decision = MatchDecision(Band.REJECT, decision.best, decision.margin, "another person")
    # N = 1: the accept line is the pack's own, not raised for the gallery's size.
    searched = "phone, 1:1 against the claimed member (N=1), margin against everyone enrolled"
    logger.info(describe(decision, searched, thresholds))
    return decision


def _store(
    backend: Backend,
    session: Session,
    *,
    meeting: Meeting,
    member: Member,
    decision: MatchDecision,
    attempt: PhoneAttempt,
    bbox: Sequence[float],
    doubtful: bool,
) -> CheckinOutcome:
    """Use the ticket (a replay fails here, atomically) and record the check-in."""
    meeting_qr.redeem(backend, session, attempt.ticket)
    pending = decision.band is Band.REVIEW or doubtful
    outcome = attendance.record_checkin(
        session,
        meeting=meeting,
        member_id=member.id,
        method="phone",
        status="pending_review" if pending else "approved",
        similarity=decision.best.similarity if decision.best else None,
        margin=decision.margin,
    )
    if outcome.result == "recorded":
        _locate(outcome.record, meeting, attempt.position)
        if pending:
            crop = evidence.face_crop(backend.decodes.decode(attempt.selfie, uploads.SELFIE), bbox)
            cipher = evidence.EvidenceCipher.from_settings(backend.settings)
            evidence.attach(cipher, outcome.record, crop)
    session.commit()
    attendance.announce(records.record_publisher(backend.events), [outcome])
    return outcome


def _locate(record: AttendanceRecord, meeting: Meeting, position: Position | None) -> None:
    record.location_flag = location_flag(meeting, position)
    if position is not None:
        record.latitude, record.longitude = position.latitude, position.longitude
        record.accuracy_m = position.accuracy_m


def check_in(backend: Backend, session: Session, attempt: PhoneAttempt) -> PhoneResult:
    """Run one phone check-in attempt end to end (see the module docstring)."""
    meeting = session.get(Meeting, meeting_qr.peek(backend, attempt.ticket))
    if meeting is None:
        raise NotFoundError("This meeting no longer exists.")
    if attempt.video is not None:
        with phone_video.opened(attempt.video):  # codec and frame size, nothing decoded
            pass
    else:
        uploads.check_header(attempt.selfie, uploads.SELFIE)
    for frame in attempt.turn:  # each costs an embedding: the same caps, before any work
        uploads.check_header(frame, uploads.TURN_FRAME)
    member = _claimed_member(session, attempt)
    tries_left = phone_guard.reserve(
        backend, attempt.ticket, attempt.client_ip, frames=len(attempt.turn)
    )
    attendance.check_open(meeting, utcnow(), accept_ended=False)
    # Hand the connection back while the face-service works: a slow face-service must
    # never hold the database pool (nothing is written before this point).
    session.commit()
    if attempt.video is not None:
        attempt = _from_video(backend, attempt, attempt.video)
    embedded = backend.face_service.embed(attempt.selfie, purpose="checkin")
    if embedded.model_id != backend.face_model.model_id:
        raise ConflictError("The face-service runs another recogniser than the server expects.")
    verdict = _verdict(backend, session, meeting, member, embedded.embedding)
    if verdict.not_listed:
        _refused(backend, session, attempt, meeting=meeting, member=member, verdict=verdict)
        phone_guard.spend(backend, attempt.ticket)  # another try cannot help
        return PhoneResult(None, 0, refusal=NOT_LISTED)
    turn_refusal = _head_turn(backend, meeting, attempt, embedded, verdict)
    if turn_refusal:
        verdict = replace(verdict, refusal="the head did not turn as asked", suspicious=False)
    if member is None or verdict.decision is None or verdict.refusal:
        _refused(backend, session, attempt, meeting=meeting, member=member, verdict=verdict)
        if tries_left == 0:
            phone_guard.spend(backend, attempt.ticket)
        return PhoneResult(None, tries_left, refusal=turn_refusal)
    earlier = phone_guard.refusals(backend, meeting.id, member.id, _device(attempt))
    outcome = _store(
        backend,
        session,
        meeting=meeting,
        member=member,
        decision=verdict.decision,
        attempt=attempt,
        bbox=embedded.face.bbox,
        doubtful=earlier >= phone_guard.DOUBT_AFTER,
    )
    phone_guard.forget(backend, meeting.id, member.id, _device(attempt))
    if outcome.result == "recorded" and outcome.record.location_flag == "outside":
        why = "checked in from outside the meeting's radius"
        _note(
            backend,
            session,
            meeting,
            attempt,
            member=member,
            reason=why,
            decision=verdict.decision,
            outcome="suspicious",
        )
    return PhoneResult(outcome, tries_left, earlier, full_name=member.full_name)


def _from_video(backend: Backend, attempt: PhoneAttempt, clip: Path) -> PhoneAttempt:
    """The attempt with the clip's first frame as the selfie and the rest as the burst."""
    with backend.decodes.held():  # one of the process's few decode slots
        sampled = phone_video.sample(clip)
    burst = replace(attempt, turn=sampled.burst, times_s=sampled.times_s)
    return replace(burst, selfie=sampled.selfie, video=None, from_video=True)


def _head_turn(
    backend: Backend,
    meeting: Meeting,
    attempt: PhoneAttempt,
    embedded: EmbedResponse,
    verdict: _Verdict,
) -> str:
    """The head-turn challenge, when the meeting's policy asks for it on this attempt.

    `always`: every attempt. `review_only`: unless the face is a clear match (accept
    band), as the setting says; a refused claim is judged too, so the answer does not
    tell an impostor whether the person they name is enrolled.
    """
    moves = meeting_qr.challenge_of(backend, attempt.ticket)
    if not moves:
        return ""
    clear = verdict.decision is not None and verdict.decision.band is Band.ACCEPT
    if meeting.liveness == "review_only" and clear and not verdict.refusal:
        return ""
    refusal = phone_liveness.turn_refusal(
        backend,
        moves=moves,
        selfie=attempt.selfie,
        selfie_face=embedded.face,
        selfie_vector=templates_crud.normalised(embedded.embedding),
        frames=attempt.turn,
        times_s=attempt.times_s,
        from_video=attempt.from_video,
    )
    return refusal or ""


@dataclass(frozen=True)
class _Verdict:
    """The match decision (None when refused before matching) and, if refused, why."""

    decision: MatchDecision | None
    refusal: str = ""
    suspicious: bool = False
    # The face matched the person named (their own try, whatever else went wrong).
    own_face: bool = False
    # The face matched the person named, but the meeting does not expect them.
    not_listed: bool = False


def _verdict(
    backend: Backend,
    session: Session,
    meeting: Meeting,
    member: Member | None,
    embedding: list[float],
) -> _Verdict:
    """Decide the claim; the reasons are for admins only, the phone hears one answer.

    A claim refused before matching still searches the gallery, so the answer takes
    as long whether or not the claimed person exists or is enrolled. Only a face that
    matches the person named hears that the meeting does not expect them (nor does a
    meeting that expects nobody: staff check people in there).
    """
    probe = templates_crud.normalised(embedding)
    if member is None:
        model_id = backend.face_model.model_id
        gallery = backend.galleries.for_model(model_id).current(session)
        gallery.search(Embedding(probe, model_id), k=2)
        return _Verdict(None, "claimed identity not found")
    decision = match(backend, session, member, probe)
    own = decision.band is not Band.REJECT
    if not attendance.expected_by_face(meeting, member):
        return _Verdict(None, "not expected here", own_face=own, not_listed=own)
    if decision.band is Band.REJECT:
        # The face of another enrolled member claiming this one is worth a closer look.
        other = decision.reason == "another person"
        reason = "the face is another member's" if other else "the face did not match"
        return _Verdict(decision, reason, suspicious=other)
    return _Verdict(decision, own_face=True)


def _refused(
    backend: Backend,
    session: Session,
    attempt: PhoneAttempt,
    *,
    meeting: Meeting,
    member: Member | None,
    verdict: _Verdict,
) -> None:
    """Record a refused attempt for admins; the phone only hears "not recognised"."""
    if member is not None:
        device = _device(attempt) if verdict.own_face else None
        phone_guard.note_refusal(backend, meeting.id, member.id, own_device=device)
    _note(
        backend,
        session,
        meeting,
        attempt,
        member=member,
        reason=verdict.refusal,
        decision=verdict.decision,
        outcome="suspicious" if verdict.suspicious else "refused",
    )


def _device(attempt: PhoneAttempt) -> str:
    """What ties a member's own tries together: the page's device id, else the ticket."""
    return f"device:{attempt.device}" if attempt.device else f"ticket:{attempt.ticket}"


def _note(
    backend: Backend,
    session: Session,
    meeting: Meeting,
    attempt: PhoneAttempt,
    *,
    member: Member | None,
    reason: str,
    decision: MatchDecision | None = None,
    outcome: AttemptOutcome = "refused",
) -> None:
    """Record a refused or suspicious attempt for admins, commit it and announce it."""
    similarity = decision.best.similarity if decision and decision.best else None
    row = attempts.record(
        session,
        meeting_id=meeting.id,
        channel="phone",
        outcome=outcome,
        reason=reason,
        member_id=member.id if member else None,
        similarity=similarity,
        client_ip=attempt.client_ip,
        location_flag=location_flag(meeting, attempt.position),
    )
    session.commit()
    attempts.announce(backend.store, session, row)
