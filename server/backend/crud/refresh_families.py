"""Refresh-token families in the database: one atomic rotation, one winner (RFC 9700).

Rotating is a conditional UPDATE (`current_jti` must still be the presented id), so of
any number of concurrent refreshes of one token exactly one rotates. A refresh that
lost, or a client's retry after a lost answer, presents the token just replaced: within
`grace` seconds it gets the same successor back instead of ending the sign-in. Any other
reuse (an older token, or after the grace window) revokes the whole family.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, CursorResult, delete, exists, update
from sqlalchemy.orm import Session, sessionmaker

from server.backend.models import RefreshFamily

# Revoked and expired families are kept this long (seconds), then purged.
KEEP_ENDED = 24 * 3600


@dataclass(frozen=True)
class Rotation:
    """`rotated`/`retry` carry the successor's id and issue time; the rest end the request."""

    outcome: Literal["rotated", "retry", "reused", "ended"]
    jti: str = ""
    issued_at: int = 0


class RefreshFamilies:
    """Start, rotate, check and revoke families, each in a short transaction of its own."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def start(
        self, *, family: str, admin_id: uuid.UUID, jti: str, issued_at: int, expires_at: int
    ) -> None:
        with self._sessions.begin() as session:
            session.execute(
                delete(RefreshFamily).where(RefreshFamily.expires_at < issued_at - KEEP_ENDED)
            )
            session.add(
                RefreshFamily(
                    id=family,
                    admin_id=admin_id,
                    current_jti=jti,
                    rotated_at=issued_at,
                    expires_at=expires_at,
                )
            )

    def rotate(
        self, *, family: str, presented: str, new_jti: str, now: int, expires_at: int, grace: int
    ) -> Rotation:
        """Swap `presented` for `new_jti` if it is current; else decide retry or reuse."""
        with self._sessions.begin() as session:
            swapped = session.execute(
                update(RefreshFamily)
                .where(
                    RefreshFamily.id == family,
                    RefreshFamily.current_jti == presented,
                    RefreshFamily.revoked.is_(False),
                    RefreshFamily.expires_at > now,
                )
                .values(
                    previous_jti=presented,
                    current_jti=new_jti,
                    rotated_at=now,
                    expires_at=expires_at,
                )
            )
            if _count(swapped) == 1:
                return Rotation("rotated", new_jti, now)
            row = session.get(RefreshFamily, family, populate_existing=True)
            if row is None or row.revoked or row.expires_at <= now:
                return Rotation("ended")
            if row.previous_jti == presented and now - row.rotated_at <= grace:
                return Rotation("retry", row.current_jti, row.rotated_at)
            row.revoked = True
            return Rotation("reused")

    @staticmethod
    def alive(family: ColumnElement[str], *, now: ColumnElement[int]) -> ColumnElement[bool]:
        """A condition true while the family may still be used, for the caller's query
        (every signed-in request checks it with its admin in one round trip)."""
        return exists().where(
            RefreshFamily.id == family,
            RefreshFamily.revoked.is_(False),
            RefreshFamily.expires_at > now,
        )

    def revoke(self, family: str) -> None:
        with self._sessions.begin() as session:
            session.execute(
                update(RefreshFamily).where(RefreshFamily.id == family).values(revoked=True)
            )


def _count(result: object) -> int:
    return result.rowcount if isinstance(result, CursorResult) else 0
