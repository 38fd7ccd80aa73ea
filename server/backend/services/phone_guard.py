"""Throttles and attempt records of the public phone flow, kept in the shared store.

Every attempt is reserved atomically before any face work: per ticket (a ticket is
spent after TICKET_TRIES attempts, whatever their outcome) and per client address.
Nothing is counted per member, so a stranger's failures never block the member's own
next attempt; instead refusals against a member are remembered, and once there were
DOUBT_AFTER of them the member's own check-in goes to review and they are told. A
refusal whose face matched the member, from the same phone (the page's device id, else
the same ticket), is their own failed try (a head turn not seen, say), so it is not
counted against their next check-in from that phone.
"""

from __future__ import annotations

import hashlib
import math
import uuid

from server.backend.core.context import Backend
from server.backend.errors import TooManyRequestsError
from server.backend.services import meeting_qr
from server.backend.services.throttle import Limit

TICKET_TRIES = 3
# Phones behind one church Wi-Fi share an address, so this is well above one person's need.
PER_CLIENT = Limit(attempts=30, window_seconds=600)
# What one head-turn frame costs beside a selfie-only attempt: ten frames cost ~8x one
# attempt without (issue 25), so each frame counts 0.7 of an attempt in PER_CLIENT.
FRAME_WEIGHT = 0.7
DOUBT_AFTER = 3
# Refusals against a member are forgotten after this long (tomorrow's meeting starts afresh).
DOUBT_TTL = 12 * 3600
TICKET_SPENT = (
    "This check-in code has been tried {tries} times; scan the meeting code again, or see an admin."
)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _tries_key(ticket: str) -> str:
    return f"phone:tries:{_digest(ticket)}"


def _doubt_key(meeting_id: uuid.UUID, member_id: uuid.UUID) -> str:
    return f"phone:doubt:{meeting_id}:{member_id}"


def reserve(backend: Backend, ticket: str, client_ip: str, *, frames: int = 0) -> int:
    """Count this attempt for the client and the ticket; the tries the ticket has left.

    The client is charged by cost: one for the selfie, FRAME_WEIGHT per head-turn frame.
    Refuses (429) once either is used up; a used-up ticket is spent at once.
    """
    for _unit in range(attempt_cost(frames)):
        backend.throttle.consume("phone-client", client_ip, PER_CLIENT)
    used = backend.store.incr_window(_tries_key(ticket), ttl=meeting_qr.TICKET_TTL)
    if used > TICKET_TRIES:
        spend(backend, ticket)
        raise TooManyRequestsError(TICKET_SPENT.format(tries=TICKET_TRIES), retry_after=1)
    return TICKET_TRIES - used


def attempt_cost(frames: int) -> int:
    """An attempt's charge against PER_CLIENT: 1, plus FRAME_WEIGHT per frame (rounded up)."""
    return 1 + math.ceil(frames * FRAME_WEIGHT)


def spend(backend: Backend, ticket: str) -> None:
    """Use the ticket up without a check-in (its tries are over)."""
    backend.once.delete(meeting_qr.ticket_key(ticket))


def _own_key(meeting_id: uuid.UUID, member_id: uuid.UUID, device: str) -> str:
    return f"phone:own:{meeting_id}:{member_id}:{_digest(device)}"


def note_refusal(
    backend: Backend, meeting_id: uuid.UUID, member_id: uuid.UUID, *, own_device: str | None
) -> None:
    """Remember that a check-in as this member was refused.

    `own_device` is set when the face matched the member: the refusal is then also
    remembered as that phone's own try.
    """
    backend.store.incr_window(_doubt_key(meeting_id, member_id), ttl=DOUBT_TTL)
    if own_device is not None:
        backend.store.incr_window(_own_key(meeting_id, member_id, own_device), ttl=DOUBT_TTL)


def refusals(backend: Backend, meeting_id: uuid.UUID, member_id: uuid.UUID, device: str) -> int:
    """How many check-ins as this member were refused at this meeting lately, leaving out
    the member's own tries from `device` (this phone or ticket)."""
    doubts = int(backend.store.get(_doubt_key(meeting_id, member_id)) or 0)
    own = int(backend.store.get(_own_key(meeting_id, member_id, device)) or 0)
    return max(0, doubts - own)


def forget(backend: Backend, meeting_id: uuid.UUID, member_id: uuid.UUID, device: str) -> None:
    """Start afresh once the member checked in (from `device`)."""
    backend.store.delete(_doubt_key(meeting_id, member_id))
    backend.store.delete(_own_key(meeting_id, member_id, device))
