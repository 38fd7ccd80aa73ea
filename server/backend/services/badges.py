"""Member badges: issue, reissue (the previous one stops working), revoke, check.

A member has at most one working badge. The token is not stored: Ed25519 signatures
are deterministic, so the token is re-made from the row whenever it is printed.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from server.backend.core.security.badges import BadgeSigner
from server.backend.errors import AuthError, NotFoundError
from server.backend.models import Admin, Badge, Member, utcnow


def token_for(signer: BadgeSigner, badge: Badge) -> str:
    return signer.sign(
        badge_id=badge.id, member_id=badge.member_id, issued_at=int(badge.issued_at.timestamp())
    )


def issue(session: Session, *, member: Member, by: Admin) -> tuple[Badge, int]:
    """A new badge for the member; returns it and how many older badges it revoked.

    The member's row is locked first, so two admins issuing at once cannot leave the
    member with two working badges: the second waits, then revokes the first's.
    """
    session.execute(select(Member.id).where(Member.id == member.id).with_for_update())
    now = utcnow()
    result = session.execute(
        update(Badge)
        .where(Badge.member_id == member.id, Badge.revoked_at.is_(None))
        .values(revoked_at=now),
        execution_options={"synchronize_session": False},
    )
    badge = Badge(member_id=member.id, issued_at=now, issued_by_id=by.id)
    session.add(badge)
    session.flush()
    return badge, int(getattr(result, "rowcount", 0) or 0)


def list_for_member(session: Session, *, member_id: uuid.UUID) -> list[Badge]:
    query = select(Badge).where(Badge.member_id == member_id)
    return list(session.scalars(query.order_by(Badge.issued_at.desc(), Badge.id)))


def get(session: Session, *, member_id: uuid.UUID, badge_id: uuid.UUID) -> Badge:
    badge = session.get(Badge, badge_id)
    if badge is None or badge.member_id != member_id:
        raise NotFoundError("No such badge for this member.")
    return badge


def current(session: Session, *, member_id: uuid.UUID) -> Badge:
    """The member's working badge; NotFoundError when none was issued or all are revoked."""
    query = select(Badge).where(Badge.member_id == member_id, Badge.revoked_at.is_(None))
    badge = session.scalars(query).first()
    if badge is None:
        raise NotFoundError("This member has no working badge; issue one first.")
    return badge


def revoke(session: Session, badge: Badge) -> bool:
    """Revoke for good; False when it already was."""
    if badge.revoked_at is not None:
        return False
    badge.revoked_at = utcnow()
    session.flush()
    return True


def revoked_ids(session: Session) -> list[uuid.UUID]:
    """Every revoked badge id, for kiosks to refuse offline after they sync."""
    query = select(Badge.id).where(Badge.revoked_at.is_not(None)).order_by(Badge.id)
    return list(session.scalars(query))


def check(session: Session, signer: BadgeSigner, token: str, *, member_id: uuid.UUID) -> Badge:
    """The working badge behind a token, which must name `member_id`; AuthError otherwise."""
    claims = signer.verify(token)
    if claims.member_id != member_id:
        raise AuthError("This badge belongs to someone else.")
    badge = session.get(Badge, claims.badge_id)
    if badge is None or badge.member_id != member_id:
        raise AuthError("This badge is not known to the server.")
    if badge.revoked_at is not None:
        raise AuthError("This badge has been revoked.")
    return badge


def working_badges(
    session: Session, *, member_ids: list[uuid.UUID], ministry: str | None, limit: int
) -> list[tuple[Badge, Member]]:
    """Working badges with their members, by name: the listed members, or a ministry's."""
    query = (
        select(Badge, Member)
        .join(Member, Member.id == Badge.member_id)
        .where(Badge.revoked_at.is_(None))
    )
    if member_ids:
        query = query.where(Member.id.in_(member_ids))
    if ministry:
        query = query.where(func.lower(Member.ministry) == ministry.strip().lower())
    rows = session.execute(query.order_by(Member.full_name, Member.id).limit(limit))
    return [(badge, member) for badge, member in rows]


def issue_many(
    session: Session, *, ministry: str | None, reissue: bool, by: Admin, limit: int
) -> tuple[int, int]:
    """Badges for every active member (or a ministry's): (issued, skipped).

    Members who already have a working badge are skipped unless `reissue`, so running
    it again after adding members only prints badges for the new ones.
    """
    query = select(Member).where(Member.status == "active")
    if ministry:
        query = query.where(func.lower(Member.ministry) == ministry.strip().lower())
    members = list(session.scalars(query.order_by(Member.full_name, Member.id).limit(limit)))
    working = set(
        session.scalars(
            select(Badge.member_id).where(
                Badge.revoked_at.is_(None), Badge.member_id.in_([m.id for m in members])
            )
        )
    )
    issued = 0
    for member in members:
        if member.id in working and not reissue:
            continue
        issue(session, member=member, by=by)
        issued += 1
    return issued, len(members) - issued
