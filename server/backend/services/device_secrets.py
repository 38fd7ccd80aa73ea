"""Kiosk credentials bound to a device secret that rotates, so a copied kiosk shows itself.

At pairing the server hands the kiosk a random device secret (kept in the kiosk's OS
keyring) and stores only its SHA-256. A bound kiosk's credential lives a day; the kiosk
renews it by presenting the secret, which is then replaced by a new one. So a
credential lifted off the kiosk stops working within a day, and if the kiosk's keyring
is copied, the first of the two to renew wins and the other one's next renewal uses a
spent secret: the kiosk is revoked and an admin must pair it again (theft detection,
as with refresh-token rotation in RFC 9700).

A spent secret presented again is a clone, whenever it comes: a grace for lost answers
let a copy renew with the spent secret, get a fresh one, and lock the real kiosk out
unnoticed (issue 25). So the kiosk is revoked at once, the admins are emailed, and the
real kiosk pairs again. A renewal whose answer was truly lost costs the same re-pairing;
it is rare (one renewal a day) and indistinguishable from a copy.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.backend.errors import AuthError
from server.backend.models import Admin, Kiosk, utcnow
from server.backend.services.kiosks import revoke
from server.backend.services.mailer import Mailer

REUSED = (
    "This kiosk has been revoked: its device secret was used again after it had changed, "
    "so a copy of the kiosk may exist. An admin must pair it again."
)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def bind(kiosk: Kiosk) -> str:
    """A first device secret for a newly paired kiosk (the caller commits)."""
    secret = secrets.token_urlsafe(32)
    kiosk.secret_hash = _digest(secret)
    kiosk.previous_secret_hash = None
    kiosk.secret_rotated_at = utcnow()
    return secret


@dataclass(frozen=True)
class Rotation:
    kiosk: Kiosk
    secret: str | None  # the new secret; None when the kiosk was revoked for reuse


def rotate(session: Session, kiosk_id: uuid.UUID, presented: str) -> Rotation:
    """Replace the kiosk's secret; a spent one revokes the kiosk (the caller commits).

    The row is locked, so two renewals with the same secret have one winner.
    """
    kiosk = session.get(Kiosk, kiosk_id, with_for_update=True)
    if kiosk is None or kiosk.secret_hash is None:
        raise AuthError("This kiosk has no device secret on the server; pair it again.")
    if kiosk.revoked_at is not None:
        raise AuthError("This kiosk has been revoked; an admin must pair it again.")
    digest = _digest(presented)
    previous = kiosk.previous_secret_hash
    if previous is not None and hmac.compare_digest(digest, previous):
        revoke(session, kiosk)
        return Rotation(kiosk, None)
    if not hmac.compare_digest(digest, kiosk.secret_hash):
        raise AuthError("This device secret is not valid for this kiosk.")
    secret = secrets.token_urlsafe(32)
    kiosk.secret_hash, kiosk.previous_secret_hash = _digest(secret), digest
    kiosk.secret_rotated_at = utcnow()
    session.flush()
    return Rotation(kiosk, secret)


def tell_admins(session: Session, mailer: Mailer, kiosk: Kiosk) -> None:
    """Email every active admin that the kiosk was revoked as a likely copy (after commit)."""
    text = (
        f'The kiosk "{kiosk.name}" was revoked: its device secret was used twice, so a copy '
        "of the kiosk may exist. Check the kiosk PC, then pair the real kiosk again with a "
        "new pairing code (Kiosks screen). The copy can no longer upload or sync."
    )
    for email in session.scalars(select(Admin.email).where(Admin.is_active.is_(True))):
        mailer.send(to=email, subject="A kiosk was revoked: it may have been copied", text=text)
