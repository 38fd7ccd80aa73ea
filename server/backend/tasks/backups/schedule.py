"""Scheduled backups: an archive every BACKUP_INTERVAL_HOURS into the backup folder,
keeping the newest BACKUP_KEEP (supervisord.conf runs this beside the server).

The next backup is due an interval after the newest archive in the folder, so a restart
neither skips one nor makes an extra one. A failed backup is logged and tried again
after RETRY_SECONDS; it never stops the server.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from server.backend.core.config import Settings
from server.backend.errors import BackupError
from server.backend.tasks.backups.tasks import WORK_PREFIX, backup_dir, create_backup

logger = logging.getLogger(__name__)

PREFIX = "sonta-backup"
# After a start with no archive yet: time for the backend's migrations to finish first.
FIRST_DELAY_SECONDS = 120.0
RETRY_SECONDS = 600.0


def scheduled_archives(folder: Path) -> list[Path]:
    """The scheduled and manual archives in `folder`, oldest first (names carry the time)."""
    return sorted(folder.glob(f"{PREFIX}-*.tar.gz"))


def sweep_leftovers(folder: Path) -> None:
    """Remove what a backup killed midway left: its scratch folder and unfinished archive."""
    for path in folder.glob(f"{WORK_PREFIX}*"):
        shutil.rmtree(path, ignore_errors=True)
    for path in folder.glob(".*.partial"):
        path.unlink(missing_ok=True)


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` archives; the ones a restore kept are left alone."""
    archives = scheduled_archives(folder)
    doomed = archives[: max(0, len(archives) - keep)]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def seconds_until_due(folder: Path, interval: float, now: float) -> float:
    archives = scheduled_archives(folder)
    if not archives:
        return FIRST_DELAY_SECONDS
    return max(0.0, archives[-1].stat().st_mtime + interval - now)


def back_up_once(settings: Settings) -> bool:
    """One scheduled backup and the pruning after it; False (logged) if it failed."""
    try:
        path = create_backup(settings, prefix=PREFIX)
    except (BackupError, SQLAlchemyError, OSError) as exc:
        message = exc.message if isinstance(exc, BackupError) else str(exc)
        logger.error("Scheduled backup failed (retrying in %.0f s): %s", RETRY_SECONDS, message)
        return False
    removed = prune(path.parent, settings.backup_keep)
    logger.info("Backup written to %s (%d older removed)", path, len(removed))
    return True


def run_schedule(
    settings: Settings,
    stop: threading.Event,
    *,
    clock: Callable[[], float] = time.time,
) -> None:
    """Back up on schedule until `stop` is set."""
    interval = settings.backup_interval_hours * 3600
    if interval == 0:
        logger.info("Scheduled backups are off (BACKUP_INTERVAL_HOURS=0)")
        stop.wait()
        return
    folder = backup_dir(settings)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    sweep_leftovers(folder)
    logger.info(
        "Backups every %g h into %s, keeping %d",
        settings.backup_interval_hours,
        folder,
        settings.backup_keep,
    )
    while not stop.wait(seconds_until_due(folder, interval, clock())):
        if not back_up_once(settings):
            stop.wait(RETRY_SECONDS)
