"""Gallery sync for kiosks: the templates of the people a kiosk needs, as versioned deltas.

Who a kiosk needs: the expected people of every active meeting and of every scheduled
one starting within `UPCOMING`; with no such meeting (or none that narrows it down),
every active member. Only members with biometric consent have templates at all.

A delta lists the templates added and deleted since the kiosk's version, from the
gallery event log. A delta cannot bring back templates added before `since` for
someone who has only now become needed, so the answer carries a `scope` fingerprint
of the needed set; when the kiosk's scope differs, or it is new, too far behind, or
behind the oldest kept event, it gets a full snapshot that replaces its gallery.

Templates are decrypted here and leave the server only through this module, to a
paired kiosk, over the API.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from server.backend.crud import gallery
from server.backend.crud.templates import open_row
from server.backend.kiosk_schemas import GalleryMeeting, GalleryMember, GallerySync, GalleryTemplate
from server.backend.models import FaceTemplate, GalleryEvent, Meeting, Member, utcnow
from server.backend.security.templates import TemplateCipher, TemplateDecryptionError
from server.backend.services import badges
from server.backend.services.attendance import is_expected

logger = logging.getLogger(__name__)

# Scheduled meetings starting this soon are prepared for (the kiosk may be offline then).
UPCOMING = timedelta(hours=24)
# Beyond this many events a snapshot is cheaper to send and to apply than the delta.
MAX_DELTA_EVENTS = 500


@dataclass(frozen=True)
class Scope:
    """The people a kiosk needs and the meetings they come from."""

    members: list[Member]
    meetings: list[GalleryMeeting]
    fingerprint: str

    @property
    def member_ids(self) -> set[uuid.UUID]:
        return {m.id for m in self.members}


def _kiosk_meetings(session: Session) -> list[Meeting]:
    now = utcnow()
    upcoming = (
        (Meeting.status == "scheduled")
        & (Meeting.starts_at <= now + UPCOMING)
        & (Meeting.ends_at >= now)
    )
    query = select(Meeting).where(or_(Meeting.status == "active", upcoming))
    return list(session.scalars(query.order_by(Meeting.starts_at, Meeting.id)))


def _candidates(session: Session, meetings: list[Meeting]) -> list[Member]:
    """Active members, plus inactive ones a meeting lists by id."""
    listed = {uuid.UUID(i) for m in meetings for i in m.expected_member_ids}
    query = select(Member).where(or_(Member.status == "active", Member.id.in_(listed)))
    return list(session.scalars(query.order_by(Member.full_name, Member.id)))


def scope(session: Session, *, model_id: str) -> Scope:
    """Who the kiosks need now, with each meeting's expected people resolved."""
    meetings = _kiosk_meetings(session)
    candidates = _candidates(session, meetings)
    views, needed = [], set()
    for meeting in meetings:
        expected = [m.id for m in candidates if is_expected(meeting, m)]
        needed.update(expected)
        views.append(
            GalleryMeeting(
                meeting_id=meeting.id,
                title=meeting.title,
                status=meeting.status,
                starts_at=meeting.starts_at,
                ends_at=meeting.ends_at,
                late_after=meeting.late_after,
                expected_member_ids=expected,
            )
        )
    if not needed:
        needed = {m.id for m in candidates if m.status == "active"}
    members = [m for m in candidates if m.id in needed and m.consent_given]
    digest = hashlib.sha256(model_id.encode())
    for member_id in sorted(str(m.id) for m in members):
        digest.update(member_id.encode())
    return Scope(members, views, digest.hexdigest()[:16])


def _templates(cipher: TemplateCipher, rows: list[FaceTemplate]) -> list[GalleryTemplate]:
    out = []
    for row in rows:
        try:
            vector = open_row(cipher, row)
        except TemplateDecryptionError as exc:
            # One damaged row must not stop every kiosk's sync; an operator must see it.
            logger.error("Template left out of gallery sync: %s", exc.message)
            continue
        out.append(
            GalleryTemplate(
                template_id=row.id,
                member_id=row.member_id,
                embedding=[round(float(x), 7) for x in vector],
            )
        )
    return out


def _scope_templates(session: Session, needed: set[uuid.UUID], model_id: str) -> list[FaceTemplate]:
    if not needed:
        return []
    query = select(FaceTemplate).where(
        FaceTemplate.member_id.in_(needed), FaceTemplate.model_id == model_id
    )
    return list(session.scalars(query.order_by(FaceTemplate.created_at, FaceTemplate.id)))


def _needs_snapshot(session: Session, *, since: int, current: int, same_scope: bool) -> bool:
    if since <= 0 or not same_scope or since > current or current - since > MAX_DELTA_EVENTS:
        return True
    oldest = session.scalar(select(func.min(GalleryEvent.id)))
    # Events up to `oldest - 1` were pruned; a kiosk behind them missed some.
    return oldest is not None and since < oldest - 1


@dataclass(frozen=True)
class Delta:
    added: list[FaceTemplate]
    deleted_template_ids: list[uuid.UUID]
    deleted_member_ids: list[uuid.UUID]


def _delta(
    session: Session, *, since: int, current: int, needed: set[uuid.UUID], model_id: str
) -> Delta:
    """Net changes in (since, current]: a template's last event decides its fate."""
    query = (
        select(GalleryEvent)
        .where(GalleryEvent.id > since, GalleryEvent.id <= current)
        .order_by(GalleryEvent.id)
    )
    last = {event.template_id: event for event in session.scalars(query)}
    added = {t for t, e in last.items() if e.action == "added" and e.member_id in needed}
    deleted = sorted(t for t, e in last.items() if e.action == "deleted")
    rows = []
    if added:
        rows = list(
            session.scalars(
                select(FaceTemplate)
                .where(FaceTemplate.id.in_(added), FaceTemplate.model_id == model_id)
                .order_by(FaceTemplate.created_at, FaceTemplate.id)
            )
        )
    touched = {e.member_id for e in last.values() if e.action == "deleted"}
    remaining = set(
        session.scalars(select(FaceTemplate.member_id).where(FaceTemplate.member_id.in_(touched)))
        if touched
        else []
    )
    return Delta(rows, deleted, sorted(touched - remaining))


def gallery_for_kiosk(
    session: Session,
    *,
    cipher: TemplateCipher,
    model_id: str,
    since: int,
    kiosk_scope: str | None,
) -> GallerySync:
    """The sync answer for a kiosk at version `since` that last saw scope `kiosk_scope`."""
    current = gallery.current_version(session=session)
    needed = scope(session, model_id=model_id)
    full = _needs_snapshot(
        session, since=since, current=current, same_scope=kiosk_scope == needed.fingerprint
    )
    if full:
        delta = Delta(_scope_templates(session, needed.member_ids, model_id), [], [])
    else:
        delta = _delta(
            session, since=since, current=current, needed=needed.member_ids, model_id=model_id
        )
    return GallerySync(
        version=current,
        model_id=model_id,
        full=full,
        scope=needed.fingerprint,
        templates=_templates(cipher, delta.added),
        deleted_template_ids=delta.deleted_template_ids,
        deleted_member_ids=delta.deleted_member_ids,
        members=[
            GalleryMember(member_id=m.id, full_name=m.full_name, ministry=m.ministry)
            for m in needed.members
        ],
        meetings=needed.meetings,
        revoked_badge_ids=badges.revoked_ids(session),
    )
