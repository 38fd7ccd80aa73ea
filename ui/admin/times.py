"""Times from the server (ISO 8601 with an offset, in UTC) shown in this computer's zone.

Every admin screen shows times through ``local`` so they read the same everywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime

MINUTE = "%Y-%m-%d %H:%M"
DAY_AND_TIME = "%a %d %b %Y %H:%M"
DAY = "%a %d %b %Y"
CLOCK = "%H:%M"


def local(iso: str | None, fmt: str = MINUTE, *, missing: str = "") -> str:
    """``iso`` in this computer's time zone as ``fmt``; ``missing`` when there is none."""
    if not iso:
        return missing
    return datetime.fromisoformat(iso).astimezone().strftime(fmt)


def ago(iso: str, now: datetime | None = None) -> str:
    """How long before ``now`` the server time ``iso`` was, as a person says it."""
    seconds = int(((now or datetime.now(UTC)) - datetime.fromisoformat(iso)).total_seconds())
    if seconds < 60:
        return "just now"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min ago"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min ago" if minutes else f"{hours} h ago"
    return f"{hours // 24} days ago"
