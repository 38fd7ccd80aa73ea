"""Logging for every `sonta` command: one line per start-up step, no library chatter.

The server's start-up log is read by operators: each step (migrate, load the model,
listen) says one line. Some libraries describe their internals at INFO on every start;
those lines are dropped unless `sonta -v` asks for everything.
"""

from __future__ import annotations

import logging
import sys

# Whole loggers whose INFO lines are internals: alembic loading its autogenerate plugins
# (once per process that touches migrations), and httpx's line per request.
QUIET_LOGGERS = ("alembic.runtime.plugins", "httpx")
# Single lines of loggers that otherwise say useful things ("Running upgrade ...",
# "Uvicorn running on ..."), matched by their start.
CHATTER = {
    "alembic.runtime.migration": ("Context impl ", "Will assume "),
    "uvicorn.error": (
        "Started server process",
        "Waiting for application startup",
        "Application startup complete",
        "Waiting for application shutdown",
        "Application shutdown complete",
    ),
}


class _DropLines(logging.Filter):
    """Drops records whose message starts with one of ``prefixes``."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self._prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self._prefixes)


def configure(*, verbose: bool) -> None:
    """Root logging to stderr; quiet the chatter unless ``verbose``."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if verbose:
        return
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name, prefixes in CHATTER.items():
        # Filters on the logger itself survive uvicorn's dictConfig of its loggers.
        logging.getLogger(name).addFilter(_DropLines(prefixes))
