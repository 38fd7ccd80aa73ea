"""What the kiosk's idle screen shows about the meeting: its name, counts and phone QR.

A plain value the core (or a fetcher polling the server) produces and a view shows.
The meeting QR rotates: ``qr_expires_at`` says when the shown code stops working, and
the view asks for a new board before then (``refresh_in``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

# Fetch a new code this long before the shown one expires (a phone needs a moment).
QR_SAFETY_MARGIN_S = 10.0


@dataclass(frozen=True)
class MeetingBoard:
    meeting_id: uuid.UUID
    title: str
    present: int
    expected: int | None  # None: the meeting names nobody (everyone may come)
    qr_url: str | None = None  # the phone check-in page; None when phone check-in is shut
    qr_expires_at: datetime | None = None  # timezone-aware
    refresh_after_s: float = 30.0

    def refresh_in(self, now: datetime | None = None) -> float:
        """Seconds until a new board (and QR) should be fetched; never negative."""
        wait = self.refresh_after_s
        if self.qr_expires_at is not None:
            now = now or datetime.now(UTC)
            left = (self.qr_expires_at - now).total_seconds() - QR_SAFETY_MARGIN_S
            wait = min(wait, left)
        return max(0.0, wait)
