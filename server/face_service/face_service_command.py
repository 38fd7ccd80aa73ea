"""`sonta face-service` (run the private face-service) and `sonta face-service wait`.

Heavy imports (uvicorn, the app, the engine) happen inside the handlers, so listing
commands stays fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from typing import Any

from server.ports import EXIT_NO_RETRY, port_problem_after_tries

log = logging.getLogger("server.face_service")

DEFAULT_URL = "http://localhost:8000"
# Connections (and so requests) handled at once; beyond this uvicorn answers 503.
MAX_CONNECTIONS = 64
# Seconds in-flight requests get at shutdown; keeps a stop inside Docker's 10 s.
GRACEFUL_SHUTDOWN = 3


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "face-service",
        help="run the private face-service (127.0.0.1:8000)",
        description="Without an action, run the face-service. It binds a loopback address "
        "only, unless FACE_SERVICE_MODE=separate and FACE_SERVICE_API_KEY are set. "
        "`sonta face-service wait` waits until a running one is ready.",
    )
    parser.add_argument("--host", help="address to bind (default: FACE_SERVICE_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: FACE_SERVICE_PORT or 8000)")
    parser.set_defaults(handler=run_face_service)
    actions = parser.add_subparsers(dest="face_service_command", metavar="ACTION")
    wait = actions.add_parser(
        "wait", help="wait until the face-service is ready (exit 1 if it is not in time)"
    )
    wait.add_argument("--url", help=f"default: FACE_SERVICE_URL or {DEFAULT_URL}")
    wait.add_argument("--timeout", type=float, default=300.0, help="seconds (default 300)")
    wait.set_defaults(handler=run_wait)


def run_face_service(args: argparse.Namespace) -> int:
    import uvicorn  # noqa: PLC0415

    from server.face_service.app import create_app  # noqa: PLC0415
    from server.face_service.errors import FaceServiceConfigError  # noqa: PLC0415
    from server.face_service.settings import FaceServiceSettings  # noqa: PLC0415

    try:
        settings = FaceServiceSettings.from_env()
        overrides = {"host": args.host, "port": args.port}
        settings = dataclasses.replace(
            settings, **{k: v for k, v in overrides.items() if v is not None}
        )
        settings.check()
    except FaceServiceConfigError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    problem = port_problem_after_tries(settings.host, settings.port, "FACE_SERVICE_PORT")
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_NO_RETRY
    if not args.verbose:
        # Our own lines say what is loading and when; the engine's would repeat them.
        logging.getLogger("kiosk.inference").setLevel(logging.WARNING)
    if settings.private:
        where = f"localhost:{settings.port} (private: bound to {settings.host})"
    else:
        where = f"{settings.host}:{settings.port} (separate-container mode: API key required)"
    log.info("Face service starting on %s", where)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
        access_log=False,
        server_header=False,
    )
    return 0


def run_wait(args: argparse.Namespace) -> int:
    """For start-up scripts: block until the face-service reports healthy."""
    from server.backend.services.face_client import FaceServiceClient  # noqa: PLC0415

    if not args.verbose:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per probe otherwise
    port = os.environ.get("FACE_SERVICE_PORT", "").strip()
    derived = f"http://localhost:{port}" if port else DEFAULT_URL  # the backend's rule
    url = args.url or os.environ.get("FACE_SERVICE_URL", "").strip() or derived
    api_key = os.environ.get("FACE_SERVICE_API_KEY", "").strip() or None
    client = FaceServiceClient(url, api_key=api_key)
    try:
        log.info("Waiting for the face-service at %s (up to %.0f s)", url, args.timeout)
        state = client.wait_until_ready(args.timeout)
    finally:
        client.close()
    if state.ready:
        log.info("The face-service at %s is up (model %s)", url, state.model)
        return 0
    log.warning(
        "The face-service at %s is not ready (%s%s); starting without it.",
        url,
        state.status,
        f": {state.detail}" if state.detail else "",
    )
    return 1
