"""Live attendance events of a meeting (`/api/meetings/{id}/events`), as server-sent events.

The stream holds no database connection and no worker thread: the caller is authorised
briefly, then the stream awaits the store's subscription on the event loop (sse-starlette
over redis.asyncio) and forwards what arrives, re-checking now and then that the
sign-in that opened it has not ended. Sixty open streams used to take every worker
thread (issue 13, defect 6).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sse_starlette import EventSourceResponse, ServerSentEvent

from server.backend.api.deps import BackendDep, SessionDep, SignedInDep
from server.backend.core.context import Backend
from server.backend.core.security.tokens import TokenClaims
from server.backend.crud import meetings as meetings_crud
from server.backend.errors import AuthError
from server.backend.kv.pubsub import AsyncSubscription
from server.backend.schemas.resources import Message
from server.backend.services import accounts, live_events

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/meetings", tags=["live events"])
REFUSED: dict[int | str, dict[str, Any]] = {401: {"model": Message}, 404: {"model": Message}}
# How long one wait on the subscription lasts before checking for a disconnect.
POLL_SECONDS = 1.0
# How often a long stream re-checks that its sign-in is still live (one small query).
REVALIDATE_SECONDS = 30.0
_bearer = HTTPBearer(auto_error=False, description="An access token from /api/auth/login")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


class StreamTicket(BaseModel):
    ticket: str
    expires_in: int


@router.post("/{meeting_id}/events/ticket", responses=REFUSED)
def stream_ticket(
    meeting_id: uuid.UUID, backend: BackendDep, session: SessionDep, signed_in: SignedInDep
) -> StreamTicket:
    """A single-use ticket for `?ticket=` (EventSource cannot send an Authorization header)."""
    meetings_crud.get(session=session, meeting_id=meeting_id)
    ticket = live_events.issue_stream_ticket(
        backend.once, grant=_grant(signed_in.claims), meeting_id=meeting_id
    )
    return StreamTicket(ticket=ticket, expires_in=live_events.STREAM_TICKET_TTL)


@router.get(
    "/{meeting_id}/events",
    responses={200: {"content": {"text/event-stream": {}}}, 429: {"model": Message}, **REFUSED},
    response_class=EventSourceResponse,
)
async def meeting_events(
    meeting_id: uuid.UUID,
    backend: BackendDep,
    credentials: Credentials,
    ticket: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> EventSourceResponse:
    """Attendance events (recorded, reviewed, deleted) of one meeting as they happen.

    The stream ends with a `session.ended` event once the sign-in that opened it ends
    (logout, disabled account, password change). One sign-in may hold
    `MAX_STREAMS_PER_SESSION` streams on a replica at once (429 beyond).
    """
    token = credentials.credentials if credentials else None
    grant = await anyio.to_thread.run_sync(_authorise, backend, meeting_id, token, ticket)
    release = backend.streams.acquire(grant.family)
    try:
        channel = live_events.meeting_channel(meeting_id)
        subscription = await backend.store.subscribe_async(channel)
    except BaseException:
        release()
        raise
    return EventSourceResponse(
        _stream(subscription, lambda: _still_signed_in(backend, grant), release),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        ping=live_events.KEEPALIVE_SECONDS,
        sep="\n",
    )


def _grant(claims: TokenClaims) -> live_events.StreamGrant:
    return live_events.StreamGrant(claims.admin_id, claims.session_version, claims.family)


def _still_signed_in(backend: Backend, grant: live_events.StreamGrant) -> bool:
    """Whether the admin is active and the sign-in (version and token family) still live."""
    with backend.sessions() as session:
        live = accounts.live_admin(
            backend, session, grant.admin_id, grant.session_version, grant.family
        )
        return live is not None


def _authorise(
    backend: Backend, meeting_id: uuid.UUID, token: str | None, ticket: str | None
) -> live_events.StreamGrant:
    """The sign-in opening the stream, by access token or stream ticket; the meeting must exist."""
    with backend.sessions() as session:
        if token is not None:
            _admin, claims = accounts.authenticate(backend, session, token)
            grant = _grant(claims)
        elif ticket is not None:
            grant = live_events.redeem_stream_ticket(
                backend.once, ticket=ticket, meeting_id=meeting_id
            )
        else:
            raise AuthError("Sign in first: send an access token or a stream ticket.")
        meetings_crud.get(session=session, meeting_id=meeting_id)
    if token is None and not _still_signed_in(backend, grant):
        raise AuthError("This session has ended; please sign in again.")
    return grant


async def _stream(
    subscription: AsyncSubscription,
    still_signed_in: Callable[[], bool],
    release: Callable[[], None],
) -> AsyncIterator[ServerSentEvent]:
    """Forward published events until the client goes away (sse-starlette then cancels
    this generator) or its sign-in ends. Waiting holds no thread."""
    try:
        yield ServerSentEvent(comment="connected", retry=3000)
        last_checked = time.monotonic()
        while True:
            message = await subscription.get(POLL_SECONDS)
            if time.monotonic() - last_checked >= REVALIDATE_SECONDS:
                last_checked = time.monotonic()
                if not await anyio.to_thread.run_sync(still_signed_in):
                    yield ServerSentEvent("{}", event="session.ended")
                    return
            if message is not None:
                yield _as_sse(message)
    finally:
        release()
        with anyio.CancelScope(shield=True):
            await subscription.close()


def _as_sse(message: str) -> ServerSentEvent:
    """A published message as an SSE event; anything unreadable becomes a comment."""
    try:
        event = live_events.LiveEvent.from_json(message)
    except (ValueError, KeyError, TypeError):
        logger.warning("Ignoring an unreadable live event message")
        return ServerSentEvent(comment="unreadable event skipped")
    return ServerSentEvent(event.to_json(), event=event.type, id=event.id)
