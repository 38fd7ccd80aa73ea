"""Members (Sonta Heads): records, consent, bulk import (search: `member_search`)."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from server.backend import member_codes
from server.backend.crud import gallery
from server.backend.errors import ConflictError, NotFoundError
from server.backend.models import Admin, FaceTemplate, Member, utcnow
from server.backend.schemas.resources import MemberCreate, MemberUpdate


def get(*, session: Session, member_id: uuid.UUID) -> Member:
    member = session.get(Member, member_id)
    if member is None:
        raise NotFoundError("No such member.")
    return member


def ministries(session: Session) -> list[str]:
    """The ministries of the active members, by name (one DISTINCT query, not a list of
    members)."""
    query = select(Member.ministry).where(Member.status == "active").distinct()
    return sorted(session.scalars(query), key=str.casefold)


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
