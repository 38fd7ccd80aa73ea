"""Which people a kiosk's gallery holds: those of the meetings it serves, open or soon.

Who a kiosk needs, and nobody else (a kiosk is a device in a public place: what it
holds can be copied off it): the expected people of every active meeting it serves and
of every scheduled one it serves starting within the look-ahead (`GALLERY_LOOKAHEAD_HOURS`,
24 h by default, so an offline kiosk is ready for tomorrow's meeting). A meeting serves
every kiosk unless it lists some in `kiosk_ids`. A kiosk serving none of the meetings
under way or coming gets nobody. Only members with biometric consent have templates.

A meeting that lists no ministry and no member sends kiosks nobody, unless an admin has
opened it to everyone (`open_to_everyone`): then its kiosks get every active member.
Sending everyone by default is what let every kiosk copy the whole church; a meeting
without a list usually means "not decided yet", and everyone is one deliberate tick
away. Such a meeting takes staff (manual) check-ins only, never a face's (see
`attendance.expects_nobody`). Its kiosks are told it expects nobody (an empty list
without `expects_everyone`, see `GalleryMeeting`) and recognise nobody for it, instead
of everyone they hold for other meetings.

The set's fingerprint goes with each sync answer (see `sync`): when someone joins or
leaves it, the kiosk gets a snapshot that replaces its gallery, so whoever left is gone
from the kiosk too. Each sync notes on the kiosk's row what it was given
(`record_holdings`), for the admins' Kiosks screen.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import NamedTuple

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from server.backend.models import FaceTemplate, Kiosk, Meeting, Member, utcnow
from server.backend.schemas.kiosk import GalleryMeeting
from server.backend.services.attendance import expects, expects_nobody

# Scheduled meetings starting this soon are prepared for (the kiosk may be offline then);
# the default of GALLERY_LOOKAHEAD_HOURS.
UPCOMING = timedelta(hours=24)
# A quiet sync that changes nothing a kiosk holds refreshes its "as of" at most this often.
NOTE_EVERY = timedelta(minutes=1)


class Candidate(NamedTuple):
    """The five columns of a member that decide and describe a kiosk's gallery.

    Read as plain rows, not `Member` entities: every sync (every few seconds per kiosk)
    reads every candidate, and at 5,000 members building entities, and collecting the
    garbage they leave, was most of a quiet sync's cost.
    """

    id: uuid.UUID
    full_name: str
    ministry: str
    status: str
    consent_given: bool


@dataclass(frozen=True)
class Scope:
    """The people a kiosk needs and the meetings they come from."""

    members: list[Candidate]
    meetings: list[GalleryMeeting]
    fingerprint: str
    member_ids: frozenset[uuid.UUID] = field(init=False)

    def __post_init__(self) -> None:
        # Asked for several times per sync: worked out once.
        object.__setattr__(self, "member_ids", frozenset(m.id for m in self.members))


def _current_meetings(session: Session, lookahead: timedelta) -> list[Meeting]:
    now = utcnow()
    upcoming = (
        (Meeting.status == "scheduled")
        & (Meeting.starts_at <= now + lookahead)
        & (Meeting.ends_at >= now)
    )
    query = select(Meeting).where(or_(Meeting.status == "active", upcoming))
    return list(session.scalars(query.order_by(Meeting.starts_at, Meeting.id)))


def _candidates(session: Session, meetings: list[Meeting]) -> list[Candidate]:
    """Active members, plus inactive ones a meeting lists by id (none without meetings)."""
    if not meetings:
        return []
    listed = {uuid.UUID(i) for m in meetings for i in m.expected_member_ids}
    columns = (Member.id, Member.full_name, Member.ministry, Member.status, Member.consent_given)
    query = select(*columns).where(or_(Member.status == "active", Member.id.in_(listed)))
    rows = session.execute(query.order_by(Member.full_name, Member.id))
    return [Candidate(*row) for row in rows]


def serves(meeting: Meeting, kiosk_id: uuid.UUID | None) -> bool:
    """Whether the kiosk takes this meeting's check-ins (an empty list means every kiosk)."""
    return not meeting.kiosk_ids or (kiosk_id is not None and str(kiosk_id) in meeting.kiosk_ids)


def _view(meeting: Meeting, expected: list[uuid.UUID], held: set[uuid.UUID]) -> GalleryMeeting:
    """The meeting as the kiosk gets it. An everyone meeting that expects every person the
    kiosk is given says so instead of listing them all (`GalleryMeeting`); one that does
    not (someone held for another meeting is inactive) keeps its exact list."""
    everyone = meeting.open_to_everyone and not meeting.expected_ministries
    everyone = everyone and not meeting.expected_member_ids and held.issubset(expected)
    return GalleryMeeting(
        meeting_id=meeting.id,
        title=meeting.title,
        status=meeting.status,
        starts_at=meeting.starts_at,
        ends_at=meeting.ends_at,
        late_after=meeting.late_after,
        expected_member_ids=[] if everyone else expected,
        expects_everyone=everyone,
        liveness=meeting.liveness,
    )


def scope(
    session: Session,
    *,
    model_id: str,
    kiosk_id: uuid.UUID | None = None,
    lookahead: timedelta = UPCOMING,
) -> Scope:
    """Who `kiosk_id` needs now, with each meeting's expected people resolved."""
    meetings = [m for m in _current_meetings(session, lookahead) if serves(m, kiosk_id)]
    candidates = _candidates(session, meetings)
    expected: dict[uuid.UUID, list[uuid.UUID]] = {}
    for meeting in meetings:
        wanted = expects(meeting)
        expected[meeting.id] = (
            [] if expects_nobody(meeting) else [m.id for m in candidates if wanted(m)]
        )
    needed = {member for people in expected.values() for member in people}
    members = [m for m in candidates if m.id in needed and m.consent_given]
    held = {m.id for m in members}
    views = [_view(meeting, expected[meeting.id], held) for meeting in meetings]
    digest = hashlib.sha256(model_id.encode())
    for member_id in sorted(str(m.id) for m in members):
        digest.update(member_id.encode())
    return Scope(members, views, digest.hexdigest()[:16])


def record_holdings(
    session: Session, kiosk: Kiosk, needed: Scope, *, model_id: str, recount: bool = True
) -> None:
    """Note on the kiosk's row what this sync gives it: people, templates, meetings.

    `recount=False` is a quiet delta (same people, no gallery event since): the template
    count cannot have changed, and when the rest is as noted less than `NOTE_EVERY` ago
    nothing is written, so a quiet sync commits no write (a durable commit on every
    few-second sync of every kiosk made quiet syncs 1.4x slower).
    """
    ids = needed.member_ids
    meetings = [
        {
            "meeting_id": str(m.meeting_id),
            "title": m.title,
            "people": len(ids)
            if m.expects_everyone
            else len(ids.intersection(m.expected_member_ids)),
        }
        for m in needed.meetings
    ]
    now = utcnow()
    noted = kiosk.gallery_synced_at
    recent = noted is not None and now - noted < NOTE_EVERY
    same = kiosk.gallery_meetings == meetings and kiosk.gallery_people == len(ids)
    if not recount and recent and same:
        return
    if recount or noted is None:
        kiosk.gallery_templates = _template_count(session, ids, model_id)
    kiosk.gallery_people = len(ids)
    kiosk.gallery_meetings = meetings
    kiosk.gallery_synced_at = now


def _template_count(session: Session, ids: frozenset[uuid.UUID], model_id: str) -> int:
    if not ids:
        return 0
    counted = select(func.count()).select_from(FaceTemplate)
    counted = counted.where(FaceTemplate.member_id.in_(ids), FaceTemplate.model_id == model_id)
    return session.scalar(counted) or 0
