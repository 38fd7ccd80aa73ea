"""Phone self check-in: a scanned meeting QR ticket, a claimed identity and a selfie.

The face-service embeds the selfie; the backend compares it with the claimed member's
templates and with the best template of anyone else, and applies the same bands and
margin as the kiosk (`kiosk.inference.matching.decide`). The ticket is only used up
when a check-in is stored, so a photo that was not recognised can be retaken; after
MAX_FAILED_TRIES failures per member and meeting the phone is sent to an admin.

A reported position is recorded and flagged against the meeting's radius, but it is
the phone's claim, so it never decides a check-in on its own.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.inference.errors import ImageError
from kiosk.inference.images import decode_image
from kiosk.inference.matching import Band, Candidate, MatchDecision, decide
from server.backend.attempt_schemas import AttemptOutcome
from server.backend.context import Backend
from server.backend.crud import members as members_crud
from server.backend.crud import templates as templates_crud
from server.backend.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    TooManyRequestsError,
)
from server.backend.models import AttendanceRecord, FaceTemplate, Meeting, Member, utcnow
from server.backend.security.templates import TemplateDecryptionError
from server.backend.services import attempts, attendance, evidence, meeting_qr, records
from server.backend.services.attendance import CheckinOutcome

MAX_FAILED_TRIES = 3
# Failed tries are forgotten after this long, so tomorrow's meeting starts afresh.
FAILED_TRIES_TTL = 12 * 3600
SELFIE_MAX_BYTES = 2 * 1024 * 1024
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


@dataclass(frozen=True)
class PhoneResult:
    """`outcome` is None when the face was not recognised (see `tries_left`)."""

    decision: MatchDecision
    outcome: CheckinOutcome | None
    tries_left: int


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


def check_selfie(data: bytes) -> None:
    """Refuse what is not a usable photo before the face-service is asked (clear 4xx)."""
    try:
        decode_image(data, max_bytes=SELFIE_MAX_BYTES)
    except ImageError as exc:
        raise BadRequestError(f"The selfie cannot be used: {exc}") from exc


def _claimed_member(session: Session, attempt: PhoneAttempt) -> Member:
    if attempt.member_id is not None:
        member = session.get(Member, attempt.member_id)
    elif attempt.email:
        query = select(Member).where(func.lower(Member.email) == attempt.email.strip().lower())
        member = session.scalars(query).first()
    elif attempt.member_code:
        member = members_crud.by_code(session=session, code=attempt.member_code)
    else:
        raise BadRequestError(
            "Say who is checking in: send your email or the member code on your badge."
        )
    if member is None:
        # One message for unknown and mismatched people: no list of members to probe.
        raise NotFoundError("We could not find you for this meeting; please see an admin.")
    return member


def _tries_key(meeting_id: uuid.UUID, member_id: uuid.UUID) -> str:
    return f"phone:fails:{meeting_id}:{member_id}"


def _failed_tries(backend: Backend, meeting_id: uuid.UUID, member_id: uuid.UUID) -> int:
    return int(backend.store.get(_tries_key(meeting_id, member_id)) or 0)


def _see_an_admin(backend: Backend, key: str) -> TooManyRequestsError:
    return TooManyRequestsError(
        f"Your face was not recognised {MAX_FAILED_TRIES} times; please see an admin to check in.",
        retry_after=max(1, backend.store.ttl(key)),
    )


def _member_vectors(
    backend: Backend, session: Session, member_id: uuid.UUID
) -> list[NDArray[np.float32]]:
    query = select(FaceTemplate).where(
        FaceTemplate.member_id == member_id,
        FaceTemplate.model_id == backend.face_model.model_id,
    )
    vectors = []
    for row in session.scalars(query):
        try:
            vectors.append(templates_crud.open_row(backend.cipher, row))
        except TemplateDecryptionError:
            continue  # a damaged row is reported by the templates tools, not here
    if not vectors:
        raise ConflictError("No face is enrolled for you yet; please see an admin.")
    return vectors


def match(
    backend: Backend, session: Session, member: Member, probe: NDArray[np.float32]
) -> MatchDecision:
    """The claimed member against the best other person: bands and margin as on the kiosk."""
    own = max(float(np.dot(v, probe)) for v in _member_vectors(backend, session, member.id))
    candidates = [Candidate(str(member.id), "", own)]
    other = templates_crud.best_other_match(
        session=session,
        cipher=backend.cipher,
        embedding=probe,
        model_id=backend.face_model.model_id,
        exclude_member=member.id,
    )
    if other is not None:
        candidates.append(Candidate(str(other.member.id), "", other.similarity))
    candidates.sort(key=lambda c: c.similarity, reverse=True)
    decision = decide(candidates)
    if decision.best is not None and decision.best.person_id != str(member.id):
        return MatchDecision(Band.REJECT, decision.best, decision.margin, "another person")
    return decision


def _store(
    backend: Backend,
    session: Session,
    *,
    meeting: Meeting,
    member: Member,
    decision: MatchDecision,
    attempt: PhoneAttempt,
    crop: bytes,
) -> CheckinOutcome:
    """Use the ticket (a replay fails here, atomically) and record the check-in."""
    meeting_qr.redeem(backend, attempt.ticket)
    pending = decision.band is Band.REVIEW
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


def _checked_member(
    backend: Backend, session: Session, meeting: Meeting, attempt: PhoneAttempt
) -> Member:
    """The claimed member, expected here and not out of tries; refusals are recorded."""
    try:
        member = _claimed_member(session, attempt)
    except NotFoundError:
        _note(backend, session, meeting, attempt, member=None, reason="claimed identity not found")
        raise
    if not attendance.is_expected(meeting, member):
        _note(backend, session, meeting, attempt, member=member, reason="not expected here")
        raise NotFoundError("We could not find you for this meeting; please see an admin.")
    if _failed_tries(backend, meeting.id, member.id) >= MAX_FAILED_TRIES:
        _note(backend, session, meeting, attempt, member=member, reason="too many failures")
        raise _see_an_admin(backend, _tries_key(meeting.id, member.id))
    return member


def check_in(backend: Backend, session: Session, attempt: PhoneAttempt) -> PhoneResult:
    """Run one phone check-in attempt end to end (see the module docstring)."""
    check_selfie(attempt.selfie)
    meeting = session.get(Meeting, meeting_qr.peek(backend, attempt.ticket))
    if meeting is None:
        raise NotFoundError("This meeting no longer exists.")
    member = _checked_member(backend, session, meeting, attempt)
    key = _tries_key(meeting.id, member.id)
    attendance.check_open(meeting, utcnow(), accept_ended=False)
    embedded = backend.face_service.embed(attempt.selfie, purpose="checkin")
    if embedded.model_id != backend.face_model.model_id:
        raise ConflictError("The face-service runs another recogniser than the server expects.")
    probe = templates_crud.normalised(embedded.embedding)
    decision = match(backend, session, member, probe)
    if decision.band is Band.REJECT:
        failures = backend.store.incr_window(key, ttl=FAILED_TRIES_TTL)
        # The face of another enrolled member claiming this one is worth a closer look.
        other = decision.reason == "another person"
        reason = "the face is another member's" if other else "the face did not match"
        kind: AttemptOutcome = "suspicious" if other else "refused"
        _note(
            backend,
            session,
            meeting,
            attempt,
            member=member,
            reason=reason,
            decision=decision,
            outcome=kind,
        )
        return PhoneResult(decision, None, max(0, MAX_FAILED_TRIES - failures))
    crop = evidence.face_crop(attempt.selfie, embedded.face.bbox)
    outcome = _store(
        backend,
        session,
        meeting=meeting,
        member=member,
        decision=decision,
        attempt=attempt,
        crop=crop,
    )
    backend.store.delete(key)
    if outcome.result == "recorded" and outcome.record.location_flag == "outside":
        why = "checked in from outside the meeting's radius"
        _note(
            backend,
            session,
            meeting,
            attempt,
            member=member,
            reason=why,
            decision=decision,
            outcome="suspicious",
        )
    return PhoneResult(decision, outcome, MAX_FAILED_TRIES)
