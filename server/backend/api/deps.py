"""Request dependencies, exposed as typed aliases (`SessionDep`, `CurrentAdmin`, ...).

Dependencies that do no I/O are `async def`: FastAPI runs sync ones in the thread
pool, and each such hop costs more than the work itself. The ones that touch the
database or the cache stay sync, so they never block the event loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from server.backend.context import Backend
from server.backend.errors import AuthError, ForbiddenError
from server.backend.models import Admin
from server.backend.security.tokens import TokenClaims
from server.backend.services import accounts


async def get_backend(request: Request) -> Backend:
    backend: Backend = request.app.state.backend
    return backend


BackendDep = Annotated[Backend, Depends(get_backend)]


def get_session(backend: BackendDep) -> Iterator[Session]:
    with backend.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def get_client_ip(request: Request) -> str:
    """The caller's address (X-Forwarded-For applies only from TRUSTED_PROXIES)."""
    return request.client.host if request.client else "unknown"


ClientIp = Annotated[str, Depends(get_client_ip)]

_bearer = HTTPBearer(auto_error=False, description="An access token from /api/auth/login")


@dataclass(frozen=True)
class SignedIn:
    admin: Admin
    claims: TokenClaims


def get_signed_in(
    backend: BackendDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> SignedIn:
    if credentials is None:
        raise AuthError("Sign in first: send an access token as 'Authorization: Bearer ...'.")
    admin, claims = accounts.authenticate(backend, session, credentials.credentials)
    return SignedIn(admin, claims)


SignedInDep = Annotated[SignedIn, Depends(get_signed_in)]


async def get_current_admin(signed_in: SignedInDep) -> Admin:
    return signed_in.admin


CurrentAdmin = Annotated[Admin, Depends(get_current_admin)]


async def get_super_admin(admin: CurrentAdmin) -> Admin:
    if admin.role != "super_admin":
        raise ForbiddenError("Only a super admin can manage admins.")
    return admin


SuperAdmin = Annotated[Admin, Depends(get_super_admin)]
