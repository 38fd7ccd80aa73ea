"""Whether a port can be listened on, checked before a program's slow start-up.

A program that fails to bind only after migrating and waiting for the model has
already counted as "started" for supervisord, which then restarts it forever. Checked
first (twice: a previous server may still be stopping), a taken port ends the program
with EXIT_NO_RETRY and a message naming the setting. Within startsecs that is a failed
start, which supervisord retries a few times before giving up (FATAL); later, it is an
exit supervisord.conf treats as final. Either way the whole server stops.
"""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Callable

# "Retrying cannot fix this" (a setting or a taken port): supervisord.conf's exitcodes.
EXIT_NO_RETRY = 2


def port_problem(host: str, port: int, variable: str) -> str | None:
    """None when ``host:port`` is free to listen on, else a message naming ``variable``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As uvicorn does: a port left in TIME_WAIT by a previous run is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"Port {port} ({variable}) is already in use: another program, or another "
                    f"Sonta server, listens there. Stop it, or set {variable} to a free port."
                )
            return f"Cannot listen on {host}:{port} ({variable}={port}): {exc.strerror}."
    return None


def port_problem_after_tries(
    host: str,
    port: int,
    variable: str,
    *,
    tries: int = 2,
    pause: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """``port_problem``, asked up to ``tries`` times ``pause`` seconds apart."""
    for attempt in range(1, tries + 1):
        problem = port_problem(host, port, variable)
        if problem is None:
            return None
        if attempt < tries:
            sleep(pause)
    return f"{problem} (Tried {tries} times over {pause * (tries - 1):.0f} s.)"
