"""The embedded (SQLite) database's own troubles, each with a message a person can act on.

A full disk, or a lock held by another program, used to read as "database unavailable"
while `/health` said the database was fine. The error boundary names them instead, and
remembers the last one for a minute so `/health` tells the same story, until a write
commits again: then the trouble is over (space was freed, the lock released), and
`/health` said "full" for a minute after space was freed before it forgot.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

from psycopg.errors import DiskFull
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

Problem = Literal["full", "locked", "read-only"]
EMBEDDED_MESSAGES: dict[Problem, str] = {
    "full": "The disk holding the database is full; nothing was saved. Free some space on "
    "it (or move SONTA_DATA_DIR to a larger disk) and try again.",
    "locked": "The database is locked by another program (a second `sonta server` on the "
    "same data directory, or a backup or database tool); nothing was saved. Close it and "
    "try again.",
    "read-only": "The database file cannot be written (read-only file or directory); "
    "nothing was saved. Give the user running Sonta write access to SONTA_DATA_DIR.",
}
# How long /health reports a trouble after the last request that met it.
REMEMBER_SECONDS = 60.0


def embedded_problem(exc: BaseException) -> Problem | None:
    """Which SQLite trouble an error is, if it is one of those named above."""
    if not isinstance(exc, OperationalError):
        return None
    text = str(exc.orig).lower()
    if "disk is full" in text or "database or disk is full" in text:
        return "full"
    if "database is locked" in text or "database table is locked" in text:
        return "locked"
    if "readonly database" in text or "read-only" in text:
        return "read-only"
    return None


def disk_full(exc: BaseException) -> bool:
    """A write refused for want of disk space, by SQLite or by PostgreSQL."""
    if embedded_problem(exc) == "full":
        return True
    return isinstance(exc, OperationalError) and isinstance(exc.orig, DiskFull)


WROTE = "sonta_wrote"  # session.info key: this transaction flushed something


def _wrote(session: Session, _context: object) -> None:
    session.info[WROTE] = True


def _rolled_back(session: Session) -> None:
    session.info.pop(WROTE, None)


class RecentTrouble:
    """The last embedded-database trouble a request met, for `/health`."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._last: tuple[Problem, float] | None = None

    def note(self, problem: Problem) -> None:
        with self._lock:
            self._last = (problem, self._clock())

    def clear(self) -> None:
        with self._lock:
            self._last = None

    def watch(self, sessions: sessionmaker[Session]) -> None:
        """Forget the trouble whenever a session of `sessions` commits a write."""
        event.listen(sessions, "after_flush", _wrote)
        event.listen(sessions, "after_rollback", _rolled_back)
        event.listen(sessions, "after_commit", self._after_commit)

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(WROTE, False) and self._last is not None:
            self.clear()

    def current(self) -> Problem | None:
        with self._lock:
            if self._last is None or self._clock() - self._last[1] > REMEMBER_SECONDS:
                return None
            return self._last[0]
