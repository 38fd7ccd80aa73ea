"""Members (Sonta Heads): records, search, consent, bulk import."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, literal_column, or_, select
from sqlalchemy.orm import Session

from server.backend import member_codes
from server.backend.crud import gallery
from server.backend.errors import ConflictError, NotFoundError
from server.backend.models import Admin, FaceTemplate, Member, utcnow
from server.backend.schemas.resources import MemberCreate, MemberUpdate
from server.backend.tasks.migrate import SEARCH_TEXT


def _like(text: str) -> str:
    """A LIKE pattern matching `text` literally anywhere (wildcards in it are escaped)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def get(*, session: Session, member_id: uuid.UUID) -> Member:
    member = session.get(Member, member_id)
    if member is None:
        raise NotFoundError("No such member.")
    return member


# Beyond this many matches a search says "1,000+" instead of counting them all: an exact
# total walks every match (0.4 s for a common surname at 50,000 members), a capped one at
# most COUNT_CAP + 1 of them.
COUNT_CAP = 1000
# Joins the fields in `search_text` (migration 0011), so no term matches across two.
FIELD_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class MemberPage:
    """One page of a search. `count` is exact unless `count_capped`: then at least that
    many members match (the count stopped there). `has_more`: a page follows this one."""

    members: list[dict[str, Any]]
    count: int
    count_capped: bool
    has_more: bool


def search(
    *,
    session: Session,
    q: str | None = None,
    ministry: str | None = None,
    status: str | None = None,
    skip: int = 0,
    limit: int = 100,
    face_model_id: str | None = None,
) -> MemberPage:
    """Members matching a free-text query (name, email, phone) and filters, by name, as
    plain rows: a list is read, never changed, and ORM objects cost twice the time.

    With ``face_model_id`` each row also says whether the member has a template of that
    recogniser (``face_enrolled``), in the same query: a second query for the page's
    faces cost a rare-term search a tenth of its rate at 50,000 members.
    """
    postgresql = session.get_bind().dialect.name == "postgresql"
    query = search_query(q=q, ministry=ministry, status=status, postgresql=postgresql)
    # One row past the page says whether another follows, without counting anything.
    ordered = query.order_by(Member.full_name, Member.id).offset(skip).limit(limit + 1)
    columns: list[Any] = [*Member.__table__.c]
    if face_model_id is not None:
        columns.append(_has_face(face_model_id).label("face_enrolled"))
    rows = session.execute(ordered.with_only_columns(*columns)).mappings()
    members = [dict(row) for row in rows]
    has_more = len(members) > limit
    members = members[:limit]
    if not has_more and (members or not skip):
        return MemberPage(members, skip + len(members), count_capped=False, has_more=False)
    # Count up to the cap (never less than this page's end, so deep pages stay consistent).
    cap = max(COUNT_CAP, skip + limit + 1)
    matches = query.with_only_columns(Member.id).limit(cap + 1).subquery()
    counted = session.scalar(select(func.count()).select_from(matches)) or 0
    return MemberPage(members, min(counted, cap), count_capped=counted > cap, has_more=has_more)


def _has_face(model_id: str) -> ColumnElement[bool]:
    """Whether the row's member has a face template of recogniser `model_id`."""
    templates = select(FaceTemplate.id).where(
        FaceTemplate.member_id == Member.id, FaceTemplate.model_id == model_id
    )
    return templates.exists()


def ministries(session: Session) -> list[str]:
    """The ministries of the active members, by name (one DISTINCT query, not a list of
    members)."""
    query = select(Member.ministry).where(Member.status == "active").distinct()
    return sorted(session.scalars(query), key=str.casefold)


def search_query(
    *,
    q: str | None = None,
    ministry: str | None = None,
    status: str | None = None,
    postgresql: bool = False,
) -> Select[Member]:
    """The search's filter. On PostgreSQL the term is matched against `search_text`, the
    lower-cased name, email and phone that migration 0011 generates and indexes with
    trigrams; elsewhere each field is compared case-insensitively (a plain scan)."""
    query = select(Member)
    if q:
        term = q.strip().replace(FIELD_SEPARATOR, "")
        pattern = _like(term)
        text_match: ColumnElement[bool]
        if postgresql:
            text_match = literal_column(f"members.{SEARCH_TEXT}").like(
                func.lower(pattern), escape="\\"
            )
        else:
            text_match = or_(
                *(
                    field.ilike(pattern, escape="\\")
                    for field in (Member.full_name, Member.email, Member.phone)
                )
            )
        query = query.where(or_(text_match, Member.member_code == member_codes.normalise(q)))
    if ministry:
        query = query.where(func.lower(Member.ministry) == ministry.strip().lower())
    if status:
        query = query.where(Member.status == status)
    return query


def _email_taken(session: Session, email: str | None, exclude: uuid.UUID | None = None) -> bool:
    if not email:
        return False
    query = select(Member.id).where(func.lower(Member.email) == email.lower())
    if exclude is not None:
        query = query.where(Member.id != exclude)
    return session.scalar(query) is not None


def unused_code(session: Session) -> str:
    """A member code no member has yet (collisions are rare; see `member_codes`)."""
    while True:
        code = member_codes.new_code()
        if session.scalar(select(Member.id).where(Member.member_code == code)) is None:
            return code


def by_code(*, session: Session, code: str) -> Member | None:
    """The member with this code, however it was typed (case, spaces, dashes)."""
    query = select(Member).where(Member.member_code == member_codes.normalise(code))
    return session.scalars(query).first()


def create(*, session: Session, member_in: MemberCreate) -> Member:
    if _email_taken(session, member_in.email):
        raise ConflictError("A member with this email already exists.")
    data = member_in.model_dump()
    data["email"] = data["email"].lower() if data["email"] else None
    member = Member(**data, member_code=unused_code(session))
    session.add(member)
    session.flush()
    return member


def update(*, session: Session, member: Member, member_in: MemberUpdate) -> dict[str, object]:
    changes = member_in.model_dump(exclude_unset=True)
    # Required columns cannot be cleared; `null` there means "leave as is".
    for name in ("full_name", "ministry", "status", "notes"):
        if changes.get(name, "") is None:
            del changes[name]
    if changes.get("email"):
        changes["email"] = str(changes["email"]).lower()
        if _email_taken(session, str(changes["email"]), exclude=member.id):
            raise ConflictError("A member with this email already exists.")
    for name, value in changes.items():
        setattr(member, name, value)
    session.flush()
    return changes


def delete_member(*, session: Session, member: Member) -> None:
    """Delete the member and, with them, every face template (biometric erasure)."""
    gallery.record_member_erasure(session=session, member_id=member.id)
    session.execute(delete(FaceTemplate).where(FaceTemplate.member_id == member.id))
    session.delete(member)
    session.flush()


def set_consent(*, session: Session, member: Member, given: bool, by: Admin | None) -> int:
    """Record consent given or withdrawn; withdrawing erases the member's templates.

    Returns the number of templates erased.
    """
    member.consent_given = given
    member.consent_changed_at = utcnow()
    member.consent_changed_by_id = by.id if by else None
    erased = 0
    if not given:
        erased = delete_templates(session=session, member_id=member.id)
    session.flush()
    return erased


def delete_templates(*, session: Session, member_id: uuid.UUID) -> int:
    gallery.record_member_erasure(session=session, member_id=member_id)
    result = session.execute(delete(FaceTemplate).where(FaceTemplate.member_id == member_id))
    return int(getattr(result, "rowcount", 0) or 0)
