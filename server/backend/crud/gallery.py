"""Gallery events: the log of template additions and deletions kiosks sync from.

Each event's id is a gallery version. Ids must become visible in increasing order, or a
kiosk that synced up to version 7 could miss a version 6 committed a moment later. On
PostgreSQL a sequence hands out ids before commit, so writers of events take one
transaction-scoped advisory lock first: the next writer waits for the previous commit
before it draws its id. Enrolments are rare, so the serialisation costs nothing that
matters. SQLite serialises writers on its own. Each writer also prunes the log to its
newest `KEEP_EVENTS` events, so it stays bounded however long the system runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from server.backend.models import FaceTemplate, GalleryEvent

# An arbitrary constant naming the "gallery events" advisory lock.
_LOCK_KEY = 0x5047414C
# Events kept. A kiosk more than 500 events behind gets a snapshot anyway (cheaper than
# the delta), so twice that serves every delta a kiosk can still use.
KEEP_EVENTS = 1000


def _serialise_writers(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    compact(session=session)


def compact(*, session: Session, keep: int = KEEP_EVENTS) -> int:
    """Delete all but the newest `keep` events, in the caller's transaction; how many went.

    A kiosk whose version is older than the oldest kept event gets a full snapshot
    (`services.sync`), so pruning loses no change; it keeps the log bounded.
    """
    cutoff = current_version(session=session) - keep
    if cutoff <= 0:
        return 0
    result = session.execute(delete(GalleryEvent).where(GalleryEvent.id <= cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


def record_added(*, session: Session, template: FaceTemplate) -> None:
    """Log an enrolled template, in the caller's transaction."""
    _serialise_writers(session)
    session.add(GalleryEvent(template_id=template.id, member_id=template.member_id, action="added"))


def record_deleted(
    *, session: Session, member_id: uuid.UUID, template_ids: Iterable[uuid.UUID]
) -> None:
    """Log deleted templates of one member, in the caller's transaction."""
    ids = list(template_ids)
    if not ids:
        return
    _serialise_writers(session)
    session.add_all(
        GalleryEvent(template_id=template_id, member_id=member_id, action="deleted")
        for template_id in ids
    )


def record_member_erasure(*, session: Session, member_id: uuid.UUID) -> None:
    """Log the deletion of every template of a member; call before deleting them."""
    ids = session.scalars(select(FaceTemplate.id).where(FaceTemplate.member_id == member_id))
    record_deleted(session=session, member_id=member_id, template_ids=ids)


def current_version(*, session: Session) -> int:
    """The newest gallery version (0 before any event)."""
    return int(session.scalar(select(func.max(GalleryEvent.id))) or 0)
