"""Making room for a new connection when a replica nears its file limit.

Measured failure: 1,100 connections that never send a request, under a 1,024 open-file
limit the process cannot raise (a common default), made `/health` fail: every file
descriptor below `limit_concurrency` was held by an idle socket, so a new request got
uvicorn's 503 or was not accepted at all. Closing idle connections after `KEEP_ALIVE`
seconds frees them too slowly under a flood. So when a connection arrives and the
open ones come within `ROOM` of the limit, the longest-idle connections (waiting for a
request, none in progress) are closed, as a busy web server reuses idle keep-alive
slots. A connection with a request in flight is never closed here.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

logger = logging.getLogger(__name__)

# Connections kept free below `limit_concurrency` for requests that do something.
ROOM = 32
# At most one warning this often: a flood would otherwise log a line per connection.
WARN_EVERY_S = 10.0
_warned = [0.0]  # when this process last warned (monotonic seconds)


class _Timer(Protocol):
    def when(self) -> float: ...


class _Connection(Protocol):
    timeout_keep_alive_task: _Timer | None

    def timeout_keep_alive_handler(self) -> None: ...


class _Server(Protocol):
    limit_concurrency: int | None
    connections: set[_Connection]


def make_room(protocol: _Server) -> int:
    """Close the longest-idle connections beyond `limit_concurrency - ROOM`; how many."""
    limit = protocol.limit_concurrency
    if limit is None:
        return 0
    excess = len(protocol.connections) - max(1, limit - ROOM)
    if excess <= 0:
        return 0
    idle = [c for c in protocol.connections if c.timeout_keep_alive_task is not None]
    idle.sort(key=lambda c: c.timeout_keep_alive_task.when())  # type: ignore[union-attr]
    closed = idle[:excess]
    for connection in closed:
        connection.timeout_keep_alive_handler()  # closes it as its idle timer would
    now = time.monotonic()
    if closed and now - _warned[0] >= WARN_EVERY_S:
        _warned[0] = now
        logger.warning(
            "Near the open-file limit (%d connections at most): closing the longest-idle "
            "connections to take new ones; raise the limit (ulimit -n) if this is real traffic",
            limit,
        )
    return len(closed)
