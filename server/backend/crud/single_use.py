"""Single-use tokens kept in the database: sign-in links, pairing codes, QR and stream tickets.

They must survive a cache restart and work on every replica whether or not Redis
answers, so they live beside the data they unlock. `take` is one `DELETE ... RETURNING`,
so of two concurrent takes exactly one gets the value. Keys are hashes of the tokens,
never the tokens. Expired rows are purged as new ones are written.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from server.backend.models import SingleUseToken


class SingleUseTokens:
    """`set` / `get` / `take` / `delete` with expiry, like the cache's, but durable."""

    def __init__(
        self, sessions: sessionmaker[Session], *, clock: Callable[[], float] = time.time
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock())

    def set(self, key: str, value: str, *, ttl: int) -> None:
        now = self._now()
        with self._sessions.begin() as session:
            session.execute(delete(SingleUseToken).where(SingleUseToken.expires_at < now))
            session.merge(SingleUseToken(key=key, value=value, expires_at=now + ttl))

    def get(self, key: str) -> str | None:
        with self._sessions() as session:
            row = session.get(SingleUseToken, key)
            return row.value if row is not None and row.expires_at > self._now() else None

    def take(self, key: str) -> str | None:
        """The value, deleted in the same statement: a token is used once."""
        statement = (
            delete(SingleUseToken)
            .where(SingleUseToken.key == key)
            .returning(SingleUseToken.value, SingleUseToken.expires_at)
        )
        with self._sessions.begin() as session:
            row = session.execute(statement).first()
        return row.value if row is not None and row.expires_at > self._now() else None

    def delete(self, key: str) -> None:
        with self._sessions.begin() as session:
            session.execute(delete(SingleUseToken).where(SingleUseToken.key == key))

    def ttl(self, key: str) -> int:
        """Seconds before `key` expires; 0 when it does not exist."""
        with self._sessions() as session:
            expires = session.scalar(
                select(SingleUseToken.expires_at).where(SingleUseToken.key == key)
            )
        return max(0, (expires or 0) - self._now())
