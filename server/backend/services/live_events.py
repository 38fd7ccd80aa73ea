"""Live attendance events per meeting, fanned out through the shared store's pub/sub.

Every change to a meeting's attendance (recorded, reviewed, deleted) is published on
the channel ``meeting:<id>`` after its transaction commits. Redis pub/sub delivers it to
every replica, and each replica streams it to the admin screens subscribed there as
server-sent events. With the in-process store this works within one process only.

Browsers' EventSource cannot send an Authorization header, so an admin may instead
ask for a short-lived, single-use stream ticket and pass it in the query string.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from server.backend.crud.single_use import SingleUseTokens
from server.backend.errors import AuthError, TooManyRequestsError
from server.backend.models import utcnow
from server.backend.services.event_relay import Publisher

logger = logging.getLogger(__name__)

EventType = Literal[
    "attendance.recorded", "attendance.reviewed", "attendance.deleted", "attempt.recorded"
]
EVENT_TYPES: tuple[EventType, ...] = (
    "attendance.recorded",
    "attendance.reviewed",
    "attendance.deleted",
    # A refused or suspicious check-in attempt (see services/attempts.py).
    "attempt.recorded",
)
# A stream ticket only has to survive the page opening its EventSource.
STREAM_TICKET_TTL = 60
# Seconds between keep-alive comments, so proxies do not close an idle stream.
KEEPALIVE_SECONDS = 15.0


def meeting_channel(meeting_id: uuid.UUID) -> str:
    return f"meeting:{meeting_id}"


@dataclass(frozen=True)
class LiveEvent:
    """One attendance change, as subscribers receive it."""

    id: str
    type: EventType
    meeting_id: uuid.UUID
    at: datetime
    record: Mapping[str, Any]

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "type": self.type,
                "meeting_id": str(self.meeting_id),
                "at": self.at.isoformat(),
                "record": self.record,
            },
            default=str,
        )

    def to_sse(self) -> str:
        """The event in the text/event-stream format: id, event name, one data line."""
        return f"id: {self.id}\nevent: {self.type}\ndata: {self.to_json()}\n\n"

    @classmethod
    def from_json(cls, message: str) -> LiveEvent:
        data = json.loads(message)
        if data.get("type") not in EVENT_TYPES:
            raise ValueError(f"unknown live event type {data.get('type')!r}")
        return cls(
            id=str(data["id"]),
            type=data["type"],
            meeting_id=uuid.UUID(data["meeting_id"]),
            at=datetime.fromisoformat(data["at"]),
            record=dict(data["record"]),
        )


def publish(
    publisher: Publisher,
    *,
    event_type: EventType,
    meeting_id: uuid.UUID,
    record: Mapping[str, Any],
) -> LiveEvent:
    """Publish an event to every subscriber of the meeting, on every replica.

    Call it after the change is committed: a subscriber must never see a change
    that was rolled back. The publisher is the backend's `EventRelay`, which only
    queues the event, so the cache can never slow or fail the change itself.
    """
    event = LiveEvent(uuid.uuid4().hex, event_type, meeting_id, utcnow(), dict(record))
    publisher.publish(meeting_channel(meeting_id), event.to_json())
    return event


@dataclass(frozen=True)
class StreamGrant:
    """The sign-in a stream was opened under; the stream ends when that sign-in ends."""

    admin_id: uuid.UUID
    session_version: int
    family: str


def _ticket_key(ticket: str) -> str:
    return f"events:ticket:{hashlib.sha256(ticket.encode()).hexdigest()}"


def issue_stream_ticket(
    store: SingleUseTokens, *, grant: StreamGrant, meeting_id: uuid.UUID
) -> str:
    """A single-use ticket that opens one event stream of one meeting, for a minute."""
    ticket = secrets.token_urlsafe(24)
    value = json.dumps(
        {
            "admin_id": str(grant.admin_id),
            "session_version": grant.session_version,
            "family": grant.family,
            "meeting_id": str(meeting_id),
        }
    )
    store.set(_ticket_key(ticket), value, ttl=STREAM_TICKET_TTL)
    return ticket


def redeem_stream_ticket(
    store: SingleUseTokens, *, ticket: str, meeting_id: uuid.UUID
) -> StreamGrant:
    """The sign-in behind a ticket for this meeting; a used or expired ticket is refused."""
    value = store.take(_ticket_key(ticket))
    if value is None:
        raise AuthError("This stream ticket was already used or has expired; ask for a new one.")
    data = json.loads(value)
    if data["meeting_id"] != str(meeting_id):
        raise AuthError("This stream ticket was issued for another meeting.")
    return StreamGrant(uuid.UUID(data["admin_id"]), int(data["session_version"]), data["family"])


# Open streams one sign-in may hold on one replica: a few screens, not a flood.
MAX_STREAMS_PER_SESSION = 5


class StreamSlots:
    """Counts open streams per sign-in (token family); refuses (429) beyond the cap."""

    def __init__(self, per_session: int = MAX_STREAMS_PER_SESSION) -> None:
        self._per_session = per_session
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}

    def acquire(self, family: str) -> Callable[[], None]:
        """Take a slot; returns the function that gives it back (safe to call twice)."""
        with self._lock:
            if self._open.get(family, 0) >= self._per_session:
                raise TooManyRequestsError(
                    f"This sign-in already has {self._per_session} live streams open; "
                    "close one (or another tab) first.",
                    retry_after=30,
                )
            self._open[family] = self._open.get(family, 0) + 1
        released = threading.Event()

        def release() -> None:
            with self._lock:
                if released.is_set():
                    return
                released.set()
                self._open[family] -= 1
                if self._open[family] <= 0:
                    del self._open[family]

        return release
