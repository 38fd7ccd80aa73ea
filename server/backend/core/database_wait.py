"""A bounded wait for the database at start-up, ending in one line that says what to check.

In a container the database may still be starting (compose, a restarted host), so the
first connection is retried; but an address that never answers must not keep the
container restarting. The wait runs until a deadline fixed when the program was spawned
(`sonta migrate --wait 60 --since EPOCH`), so however slowly the interpreter starts on a
busy machine, the program gives up at the same moment: after supervisord's startsecs,
with the exit code it treats as final, and the whole container exits.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from server.backend.errors import ServiceUnavailableError

logger = logging.getLogger(__name__)

# Seconds between attempts: short at first (a database finishing its start), then longer.
FIRST_PAUSE = 1.0
LONGEST_PAUSE = 5.0


def where(engine: Engine) -> str:
    """The database's address for a message: host:port, or the embedded file; no password."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return f"file {url.database}"
    return f"at {url.host}:{url.port or 5432}"


def one_line(error: BaseException) -> str:
    """A driver's message on one line (psycopg's spans several, with tab-indented hints)."""
    return re.sub(r"\s+", " ", str(error)).strip().rstrip(".")


def wait_for_database(
    engine: Engine,
    *,
    deadline: float,
    say: Callable[[str], None],
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return once ``engine`` answers a query; raise ServiceUnavailableError at ``deadline``
    (seconds since the epoch). At least one attempt is made, whatever the deadline."""
    pause, attempts, started = FIRST_PAUSE, 0, clock()
    while True:
        attempts += 1
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return
        except OperationalError as exc:
            reason = one_line(exc.orig or exc)
        left = deadline - clock()
        if left <= 0:
            raise ServiceUnavailableError(
                f"The database {where(engine)} cannot be reached after {attempts} "
                f"attempt(s) over {clock() - started:.0f} s ({reason}): check DATABASE_URL "
                "(or DATABASE_HOST and DATABASE_PORT) and that PostgreSQL runs and accepts "
                "connections from here; stopping, so the container is restarted."
            )
        if attempts == 1:
            say(f"Waiting up to {left:.0f} s for the database {where(engine)} ({reason}).")
        sleep(min(pause, left))
        pause = min(pause * 2, LONGEST_PAUSE)
