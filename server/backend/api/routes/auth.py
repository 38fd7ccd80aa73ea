"""Sign-in, tokens, one-time links, and the signed-in admin (`/api/auth`)."""

from __future__ import annotations

from fastapi import APIRouter, status

from server.backend.api.deps import (
    BackendDep,
    ClientIp,
    SessionDep,
    SignedInDep,
    SignedInReadsDep,
)
from server.backend.core.security.tokens import TokenPair
from server.backend.models import Admin
from server.backend.schemas.resources import (
    AdminPublic,
    EmailRequest,
    LoginRequest,
    Message,
    OneTimeTokenRequest,
    PasswordSetRequest,
    RefreshRequest,
    TokenPublic,
)
from server.backend.services import accounts

router = APIRouter(prefix="/auth", tags=["auth"])


def _public(pair: TokenPair) -> TokenPublic:
    return TokenPublic(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


@router.post("/login", responses={401: {"model": Message}, 429: {"model": Message}})
def login(
    body: LoginRequest, backend: BackendDep, session: SessionDep, ip: ClientIp
) -> TokenPublic:
    """Sign in with email and password."""
    pair = accounts.login(backend, session, email=body.email, password=body.password, client_ip=ip)
    return _public(pair)


@router.post("/refresh", responses={401: {"model": Message}})
def refresh(body: RefreshRequest, backend: BackendDep, session: SessionDep) -> TokenPublic:
    """Exchange a refresh token for a new pair; the old refresh token stops working."""
    return _public(accounts.refresh(backend, session, body.refresh_token))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses={401: {"model": Message}})
def logout(signed_in: SignedInDep, backend: BackendDep, session: SessionDep, ip: ClientIp) -> None:
    """End this sign-in: its access and refresh tokens stop working."""
    accounts.logout(backend, session, signed_in.admin, signed_in.claims, ip)


@router.get("/me", responses={401: {"model": Message}})
async def me(reads: SignedInReadsDep) -> AdminPublic:
    return await reads.run(lambda _session, admin: admin_public(admin))


@router.post(
    "/magic-link", status_code=status.HTTP_202_ACCEPTED, responses={429: {"model": Message}}
)
def magic_link(
    body: EmailRequest, backend: BackendDep, session: SessionDep, ip: ClientIp
) -> Message:
    """Email a one-time sign-in link (the same answer whether or not the email is known)."""
    return Message(
        detail=accounts.request_magic_link(backend, session, email=body.email, client_ip=ip)
    )


@router.post("/magic-link/verify", responses={401: {"model": Message}, 429: {"model": Message}})
def magic_link_verify(
    body: OneTimeTokenRequest, backend: BackendDep, session: SessionDep, ip: ClientIp
) -> TokenPublic:
    """Sign in with the token from a magic link; it works once."""
    return _public(accounts.redeem_magic_link(backend, session, token=body.token, client_ip=ip))


@router.post(
    "/password/request", status_code=status.HTTP_202_ACCEPTED, responses={429: {"model": Message}}
)
def password_request(
    body: EmailRequest, backend: BackendDep, session: SessionDep, ip: ClientIp
) -> Message:
    """Email a one-time link to set (or reset) a password."""
    return Message(
        detail=accounts.request_password_link(backend, session, email=body.email, client_ip=ip)
    )


@router.post(
    "/password/set",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={401: {"model": Message}, 422: {"model": Message}, 429: {"model": Message}},
)
def password_set(
    body: PasswordSetRequest, backend: BackendDep, session: SessionDep, ip: ClientIp
) -> None:
    """Set a password with a one-time token; ends every existing session of that admin."""
    accounts.set_password(backend, session, token=body.token, password=body.password, client_ip=ip)


def admin_public(admin: Admin) -> AdminPublic:
    return AdminPublic.model_validate(admin, from_attributes=True)
