"""Request dependencies, exposed as typed aliases (`SessionDep`, `CurrentAdmin`, ...).

Dependencies that do no I/O are `async def`: FastAPI runs sync ones in the thread
pool, and each such hop costs more than the work itself. The ones that touch the
database or the cache stay sync, so they never block the event loop.

A sync route behind `CurrentAdmin` makes three or four hops: the sign-in check, the
route, the check of its answer, and the session's end unless the route committed. The
reads every screen makes often (`/auth/me`, member search, ministries) are `async def`
routes behind `SignedInReadsDep` instead: the sign-in check and the read run together
in one hop, on an autocommit session (no BEGIN, no ROLLBACK).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

import anyio.to_thread
from anyio import CancelScope, CapacityLimiter
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from server.backend.core.context import Backend
from server.backend.core.security.tokens import TokenClaims
from server.backend.errors import AuthError, ForbiddenError
from server.backend.models import Admin
from server.backend.services import accounts


async def get_backend(request: Request) -> Backend:
    backend: Backend = request.app.state.backend
    return backend


BackendDep = Annotated[Backend, Depends(get_backend)]


async def get_session(backend: BackendDep) -> AsyncIterator[Session]:
    """Opening a session does no I/O, so it happens on the event loop. Closing one that
    still holds a connection does (ROLLBACK, back to the pool): that runs in the thread
    pool, shielded from cancellation and without waiting for a free worker, as FastAPI
    closes a sync dependency. After a commit nothing is held, and it closes right here."""
    session = backend.sessions()
    try:
        yield session
    finally:
        if session.in_transaction():
            with CancelScope(shield=True):
                await anyio.to_thread.run_sync(session.close, limiter=CapacityLimiter(1))
        else:
            session.close()


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
    admin, claims = accounts.authenticate(backend, session, _token(credentials))
    return SignedIn(admin, claims)


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None:
        raise AuthError("Sign in first: send an access token as 'Authorization: Bearer ...'.")
    return credentials.credentials


SignedInDep = Annotated[SignedIn, Depends(get_signed_in)]


async def get_current_admin(signed_in: SignedInDep) -> Admin:
    return signed_in.admin


CurrentAdmin = Annotated[Admin, Depends(get_current_admin)]


async def get_super_admin(admin: CurrentAdmin) -> Admin:
    if admin.role != "super_admin":
        raise ForbiddenError("Only a super admin can manage admins.")
    return admin


SuperAdmin = Annotated[Admin, Depends(get_super_admin)]

T = TypeVar("T")


@dataclass(frozen=True)
class SignedInReads:
    """Signed-in reads, each in one thread-pool hop: `await reads.run(work)` checks the
    sign-in and calls `work(session, admin)` in the same hop, on a read-only session."""

    backend: Backend
    claims: TokenClaims

    async def run(self, work: Callable[[Session, Admin], T]) -> T:
        return await run_in_threadpool(self._read, work)

    def _read(self, work: Callable[[Session, Admin], T]) -> T:
        with self.backend.read_sessions() as session:
            return work(session, accounts.live_admin_of(self.backend, session, self.claims))


async def get_signed_in_reads(
    backend: BackendDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> SignedInReads:
    """The token is verified here (no I/O); whether its sign-in is live, in `run`."""
    return SignedInReads(backend, backend.tokens.verify(_token(credentials), "access"))


SignedInReadsDep = Annotated[SignedInReads, Depends(get_signed_in_reads)]
