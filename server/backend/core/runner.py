"""How `sonta server` runs uvicorn: connection limits that keep a replica answering,
and BACKEND_WORKERS processes sharing its port (see `serve`).

Measured failure: with several workers, uvicorn's supervisor pings each worker every
half second and kills one that does not answer within `timeout_worker_healthcheck`
(5 s by default). A new worker answers only once it has imported the app, which takes
about 5 s of CPU here and far longer on a loaded 2-core machine, so workers were killed
while starting, over and over, and one that had not started yet was killed in the middle
of a run of requests. `WORKER_HEALTHCHECK` allows a loaded start; a worker that still
misses it is hung, not busy.

Measured failure: 1,100 idle sockets under a 1,024 file limit made `/health` fail for
30 s with nothing logged. uvicorn closes an idle keep-alive connection after
`timeout_keep_alive`, but a connection that never sends a request stays open as long
as its client likes, each holding a file descriptor. So here:

- the soft open-file limit is raised to the hard one at start-up (and logged);
- a connection that sends nothing is closed after `KEEP_ALIVE` seconds, like an idle
  keep-alive one;
- `limit_concurrency` stays below the file limit, so beyond it uvicorn answers 503
  instead of failing to accept connections at all;
- near that limit a new connection closes the longest-idle ones (`connection_room`),
  so idle sockets cannot hold every slot and `/health` keeps answering.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import shutil
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from server.backend.core.config import Settings
from server.backend.core.connection_room import make_room
from server.backend.core.metrics import MULTIPROC_ENV
from server.backend.main import create_app

logger = logging.getLogger(__name__)

# Seconds an idle connection (new or between requests) is kept open.
KEEP_ALIVE = 5
# File descriptors left for the database pool, Redis, logs and the face-service client.
RESERVED_FILES = 64
BACKLOG = 2048
# Seconds a worker has to answer the supervisor's health ping before it is taken for hung
# and replaced: it must cover the app's import in a new worker on a loaded machine.
WORKER_HEALTHCHECK = 60
# What each of several workers calls to build its app (the settings come from the
# environment it inherits).
FACTORY = "server.backend.main:app_from_env"


class IdleClosingProtocol(HttpToolsProtocol):
    """uvicorn's protocol, with the keep-alive timer started when a connection opens."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # Cancelled by uvicorn itself as soon as the first request's bytes arrive.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )
        make_room(self)  # type: ignore[arg-type]


def raise_file_limit() -> int:
    """Raise the soft open-file limit to the hard one; the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            logger.warning("Could not raise the open-file limit above %d", soft)
    if soft < 1024:
        logger.warning(
            "Open-file limit is %d: this replica can hold only ~%d connections at once; "
            "raise it (ulimit -n, or the container's nofile limit)",
            soft,
            soft - RESERVED_FILES,
        )
    return int(soft)


def config(app: FastAPI | str, *, host: str, port: int, workers: int = 1) -> uvicorn.Config:
    """uvicorn's settings for `app`: an app, or with several workers the import string
    of a factory each worker calls (the limits apply per process)."""
    files = raise_file_limit()
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        workers=workers,
        factory=isinstance(app, str),
        # Proxy headers are the app's business (TRUSTED_PROXIES), not uvicorn's loopback default.
        proxy_headers=False,
        http=IdleClosingProtocol,
        timeout_keep_alive=KEEP_ALIVE,
        limit_concurrency=max(32, files - RESERVED_FILES),
        backlog=BACKLOG,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK,
    )


def share_metrics(settings: Settings) -> None:
    """prometheus-client's multiprocess mode for the workers: each writes its counts to
    files in one folder, emptied here first (counts from a previous run would add up)."""
    folder = Path(os.environ.get(MULTIPROC_ENV) or settings.sonta_data_dir / "metrics")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o700, parents=True)
    os.environ[MULTIPROC_ENV] = str(folder)


def serve(settings: Settings, *, host: str, port: int) -> bool:
    """Serve until stopped; False when the server could not start.

    With BACKEND_WORKERS above 1, that many processes share the port: uvicorn's
    supervisor binds it once, starts each worker (which builds the app from the same
    environment, as `app_from_env`), replaces one that dies, and stops them all on
    SIGTERM. PostgreSQL and Redis are what they share (`config.settings_problems`
    refuses more than one without them).
    """
    workers = settings.backend_workers
    if workers == 1:
        server = uvicorn.Server(config(create_app(settings), host=host, port=port))
        server.run()
        return server.started
    share_metrics(settings)
    shared = config(FACTORY, host=host, port=port, workers=workers)
    supervisor = Multiprocess(shared, sockets=[shared.bind_socket()])
    supervisor.run()
    # A worker that failed before serving makes the supervisor stop the rest.
    return all(process.exitcode != STARTUP_FAILURE for process in supervisor.processes)
