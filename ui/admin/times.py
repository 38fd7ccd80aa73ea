"""Times from the server (ISO 8601 with an offset, in UTC) shown in this computer's zone.

Every admin screen shows times through ``local`` so they read the same everywhere.
"""

from __future__ import annotations

from datetime import datetime

MINUTE = "%Y-%m-%d %H:%M"
DAY_AND_TIME = "%a %d %b %Y %H:%M"
DAY = "%a %d %b %Y"
CLOCK = "%H:%M"


def local(iso: str | None, fmt: str = MINUTE, *, missing: str = "") -> str:
    """``iso`` in this computer's time zone as ``fmt``; ``missing`` when there is none."""
    if not iso:
        return missing
    return datetime.fromisoformat(iso).astimezone().strftime(fmt)
