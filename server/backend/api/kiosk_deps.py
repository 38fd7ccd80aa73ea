"""Dependencies of the kiosk endpoints: the credential service and `CurrentKiosk`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from server.backend.api.deps import BackendDep, SessionDep
from server.backend.core.security.badges import BadgeSigner
from server.backend.core.security.kiosk_tokens import KioskClaims, KioskCredentials
from server.backend.errors import AuthError, ConfigError
from server.backend.models import Kiosk
from server.backend.services import kiosks

_bearer = HTTPBearer(auto_error=False, description="A kiosk credential from /api/kiosks/pair")


async def get_kiosk_credentials(backend: BackendDep) -> KioskCredentials:
    """Built per request from the settings: deriving the key is one HMAC."""
    secret = backend.settings.jwt_access_secret
    if not secret:
        raise ConfigError("JWT_ACCESS_SECRET is missing; build settings with load_settings()")
    return KioskCredentials(secret)


KioskCredentialsDep = Annotated[KioskCredentials, Depends(get_kiosk_credentials)]


async def get_badge_signer(backend: BackendDep) -> BadgeSigner:
    """Built per request from QR_SECRET (and its previous values): one HKDF per key."""
    settings = backend.settings
    if not settings.qr_secret:
        raise ConfigError("QR_SECRET is missing; build settings with load_settings()")
    return BadgeSigner(settings.qr_secret, previous=settings.previous_qr_secrets())


BadgeSignerDep = Annotated[BadgeSigner, Depends(get_badge_signer)]


@dataclass(frozen=True)
class SignedInKiosk:
    kiosk: Kiosk
    claims: KioskClaims


def get_signed_in_kiosk(
    session: SessionDep,
    credentials: KioskCredentialsDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> SignedInKiosk:
    """The calling kiosk, re-read on every request so a revocation applies at once."""
    if bearer is None:
        raise AuthError("Send the kiosk credential as 'Authorization: Bearer ...'.")
    claims = credentials.verify(bearer.credentials)
    return SignedInKiosk(kiosks.authenticate(session, claims), claims)


SignedInKioskDep = Annotated[SignedInKiosk, Depends(get_signed_in_kiosk)]


async def get_current_kiosk(signed_in: SignedInKioskDep) -> Kiosk:
    return signed_in.kiosk


CurrentKiosk = Annotated[Kiosk, Depends(get_current_kiosk)]
