"""A little room kept aside on the embedded database's disk, so admins can still sign in
when the disk fills (the "emergency ballast" file some databases keep for the same need).

A sign-in writes one essential row, its refresh-token family: every signed-in request
checks it, and sign-out and the reuse check of a stolen refresh token end it. On a full
disk that write fails like any other (SQLite's write-ahead log must grow), so an admin
could not sign in to see what filled the disk. The server keeps a small file beside the
database; the first sign-in that meets a full disk removes it and writes its row into
the room it leaves. While the room is spent, `/health` says the database is full; it is
taken back once the disk has several times its size free again.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

RESERVE_BYTES = 1 << 20
# Take the room back only when this much is free, so it is not retaken from the little
# space its own removal left.
RETAKE_FREE_BYTES = 4 * RESERVE_BYTES
SPENT = (
    "The disk holding the database is full: the room kept aside for signing in was used "
    "so an admin could sign in. Free some space on it (or move SONTA_DATA_DIR to a "
    "larger disk); nothing else can be saved until then."
)


class SpaceReserve:
    """The reserve file of one data directory (`path` None: not embedded, no reserve)."""

    def __init__(self, path: Path | None = None, size: int = RESERVE_BYTES) -> None:
        self.path = path
        self.size = size

    def keep(self) -> bool:
        """Make sure the reserve exists (allocated, not sparse); False if there is no room."""
        if self.path is None or self._whole():
            return True
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.posix_fallocate(fd, 0, self.size)
            finally:
                os.close(fd)
        except OSError as exc:
            self.path.unlink(missing_ok=True)
            logger.warning("No room for the %d-byte sign-in reserve: %s", self.size, exc)
            return False
        return True

    def release(self) -> bool:
        """Give the room up for an essential write; False if there was none to give."""
        if self.path is None or not self.path.exists():
            return False
        self.path.unlink()
        logger.error(SPENT)
        return True

    def spent(self) -> bool:
        """True while the room is given up and the disk has not enough free to take it back."""
        if self.path is None or self._whole():
            return False
        try:
            stats = os.statvfs(self.path.parent)
        except OSError:
            return True
        if stats.f_bavail * stats.f_frsize < RETAKE_FREE_BYTES:
            return True
        return not self.keep()

    def _whole(self) -> bool:
        assert self.path is not None
        try:
            return self.path.stat().st_size >= self.size
        except FileNotFoundError:
            return False
