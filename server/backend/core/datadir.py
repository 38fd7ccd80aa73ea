"""The data directory (SONTA_DATA_DIR) is private: the directory 0700, the files 0600.

It holds the embedded database (members, encrypted templates, audit log) and the
development secrets; nobody else on the machine has any business reading them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from server.backend.errors import ConfigError

logger = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
# SQLite creates these beside the database with the database file's own mode.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def prepare_data_dir(path: Path) -> None:
    """Create the directory owner-only, or make an existing one of ours owner-only.

    A directory the process cannot write is refused here with one clear message (it
    used to fail start-up with a traceback from deep inside SQLite or the secrets file).
    """
    try:
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"The data directory {path} cannot be written ({exc.strerror or exc}). Give the "
            "user running Sonta write access to it, or set SONTA_DATA_DIR to a directory "
            "it can write."
        ) from exc
    _restrict(path, DIR_MODE)


def prepare_database_file(path: Path) -> None:
    """Create the SQLite file owner-only before SQLite does (it would use the umask)."""
    prepare_data_dir(path.parent)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE))
    for candidate in (path, *(path.with_name(path.name + s) for s in SQLITE_COMPANIONS)):
        if candidate.exists():
            _restrict(candidate, FILE_MODE)


def _restrict(path: Path, mode: int) -> None:
    try:
        if path.stat().st_mode & 0o777 != mode and path.stat().st_uid == os.getuid():
            path.chmod(mode)
    except OSError as exc:
        logger.warning("Could not make %s owner-only (%s); check its permissions", path, exc)
