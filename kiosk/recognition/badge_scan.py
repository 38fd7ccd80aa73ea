"""Badges held up to the camera: each new one verified once, then held for its holder.

A badge seen in a frame is verified offline (``BadgeCheck``: signature, key, revocation);
a genuine one stays "current" for ``valid_s`` so the next face is matched 1:1 against
its member. The same badge still held up in later frames is not verified again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.capture.qr import read_qr_codes
from kiosk.errors import BadgeError
from kiosk.events import BadgeRead, BadgeRefused
from kiosk.inference import BGRImage
from kiosk.protocol.badges import BadgeClaims

BadgeCheck = Callable[[str], BadgeClaims]  # raises BadgeError for a refused badge


@dataclass(frozen=True)
class HeldBadge:
    claims: BadgeClaims
    token: str
    until: float


class BadgeScanner:
    """Reads QR codes from frames and keeps the badge that is waiting for its face."""

    def __init__(self, check: BadgeCheck, name_of: Callable[[uuid.UUID], str], valid_s: float):
        self._check = check
        self._name_of = name_of
        self.valid_s = valid_s
        self._held: HeldBadge | None = None
        self._last_token: tuple[str, float] | None = None

    def scan(self, image: BGRImage, now: float) -> BadgeRead | BadgeRefused | None:
        """The event for a newly shown badge in ``image``, or None."""
        for token in read_qr_codes(image):
            if self._last_token and self._last_token[0] == token and now < self._last_token[1]:
                continue  # the same badge still held up: already handled
            self._last_token = (token, now + self.valid_s)
            try:
                claims = self._check(token)
            except BadgeError as exc:
                return BadgeRefused(str(exc))
            self._held = HeldBadge(claims, token, now + self.valid_s)
            return BadgeRead(claims.member_id, self._name_of(claims.member_id))
        return None

    def current(self, now: float) -> HeldBadge | None:
        """The badge waiting for its holder's face, unless it has expired."""
        if self._held is not None and now > self._held.until:
            self._held = None
        return self._held

    def used(self) -> None:
        """The held badge went into a check-in (or the kiosk was reset)."""
        self._held = None
