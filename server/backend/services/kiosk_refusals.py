"""Check-ins a kiosk sent that the server refused for good, kept so admins can act.

A refusal is final for the kiosk (it stops sending the item), so without this the
attendance it carried would vanish unseen: after a re-deploy every queued check-in was
refused "no such meeting" and nobody knew. Each final refusal of an upload is kept with
the kiosk, what the item named and the reason, and listed at `/api/kiosk-refusals`.
Answers that ask the kiosk to send again are not refusals and are not kept.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from server.backend.models import Kiosk, KioskRefusal, Meeting, Member
from server.backend.schemas.kiosk import KioskRefusalPublic

REASON_MAX = 300
FIELD_MAX = 100


def _text(value: Any) -> str:
    return "" if value is None else str(value)[:FIELD_MAX]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _time(value: Any) -> datetime | None:
    """A time the database can hold, in UTC; None for anything else (the reason says why)."""
    try:
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        utc = parsed.astimezone(UTC) if parsed.tzinfo is not None else None
    except (OverflowError, ValueError):
        return None
    return utc if utc is not None and 2000 <= utc.year <= 2200 else None


def keep(session: Session, kiosk: Kiosk, item: dict[str, Any], reason: str) -> None:
    """Add a refusal of `item` (as sent, or as validated) to the session; caller commits."""
    session.add(
        KioskRefusal(
            kiosk_id=kiosk.id,
            kiosk_name=kiosk.name,
            key=_text(item.get("key")),
            meeting_id=_text(item.get("meeting_id")),
            member_id=_text(item.get("member_id")),
            method=_text(item.get("method"))[:20],
            device_time=_time(item.get("device_time")),
            similarity=_number(item.get("similarity")),
            reason=reason[:REASON_MAX],
        )
    )


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def search(
    session: Session, *, kiosk_id: uuid.UUID | None = None, skip: int = 0, limit: int = 100
) -> tuple[list[KioskRefusalPublic], int]:
    """Refusals newest first, with the meeting's title and member's name where known."""
    query = select(KioskRefusal)
    if kiosk_id is not None:
        query = query.where(KioskRefusal.kiosk_id == kiosk_id)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordered = query.order_by(KioskRefusal.at.desc(), KioskRefusal.id).offset(skip).limit(limit)
    rows = list(session.scalars(ordered))
    titles = _known(session, Meeting.id, Meeting.title, {r.meeting_id for r in rows})
    names = _known(session, Member.id, Member.full_name, {r.member_id for r in rows})
    views = []
    for row in rows:
        view = KioskRefusalPublic.model_validate(row)
        view.meeting_title = titles.get(str(_uuid(row.meeting_id)), "")
        view.member_name = names.get(str(_uuid(row.member_id)), "")
        views.append(view)
    return views, count


def _known(
    session: Session,
    key: InstrumentedAttribute[uuid.UUID],
    label: InstrumentedAttribute[str],
    ids: set[str],
) -> dict[str, str]:
    """`label` by id (as text) of the rows among `ids` that exist here."""
    wanted = {u for text in ids if (u := _uuid(text)) is not None}
    if not wanted:
        return {}
    return {
        str(row[0]): str(row[1])
        for row in session.execute(select(key, label).where(key.in_(wanted)))
    }
