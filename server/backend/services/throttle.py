"""Fixed-window rate limits kept in the shared store, so all replicas count together."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from server.backend.errors import TooManyRequestsError
from server.backend.kv.store import KeyValueStore


@dataclass(frozen=True)
class Limit:
    attempts: int
    window_seconds: int


# Wrong passwords for one account from one client: the tight limit a guesser meets.
LOGIN_PER_ACCOUNT = Limit(attempts=5, window_seconds=900)
# One account from everywhere: stops a guesser spread over many addresses. A stranger
# can use it up, so it is well above one person's typing, and magic links ignore it.
LOGIN_PER_ACCOUNT_ALL_CLIENTS = Limit(attempts=100, window_seconds=900)
LOGIN_PER_CLIENT = Limit(attempts=30, window_seconds=900)
# One-time links per purpose, account and client: a stranger's requests never use up
# the admin's own, so the emailed link stays a recovery path.
EMAIL_PER_ACCOUNT = Limit(attempts=3, window_seconds=900)
EMAIL_PER_CLIENT = Limit(attempts=20, window_seconds=900)
# One-time codes typed in (sign-in links, set-password links) per client: a person needs
# a few; 40 guesses from one address went unrefused (issue 25).
CODES_PER_CLIENT = Limit(attempts=20, window_seconds=900)
THROTTLED = "Too many attempts. Please wait and try again later."


def _key(scope: str, subject: str) -> str:
    # Hash the subject so emails and addresses do not sit in the cache in clear.
    return f"rl:{scope}:{hashlib.sha256(subject.encode()).hexdigest()[:32]}"


class Throttle:
    """Counts events per subject; refuses once a subject has used up its window."""

    def __init__(self, store: KeyValueStore) -> None:
        self._store = store

    def check(self, scope: str, subject: str, limit: Limit) -> None:
        """Refuse (429) if `subject` is already over `limit`, without counting."""
        key = _key(scope, subject)
        current = self._store.get(key)
        if current is not None and int(current) >= limit.attempts:
            retry = self._store.ttl(key) or limit.window_seconds
            raise TooManyRequestsError(THROTTLED, retry_after=retry)

    def hit(self, scope: str, subject: str, limit: Limit) -> None:
        """Count one event for `subject`."""
        self._store.incr_window(_key(scope, subject), ttl=limit.window_seconds)

    def consume(self, scope: str, subject: str, limit: Limit) -> None:
        """Count one event and refuse it if it goes over `limit`."""
        count = self._store.incr_window(_key(scope, subject), ttl=limit.window_seconds)
        if count > limit.attempts:
            retry = self._store.ttl(_key(scope, subject)) or limit.window_seconds
            raise TooManyRequestsError(THROTTLED, retry_after=retry)

    def refund(self, scope: str, subject: str) -> None:
        """Give back one event `consume` counted (e.g. the sign-in it guarded succeeded).

        A compare-and-swap on the count, retried if another request changed it meanwhile;
        the window keeps its expiry. Nothing to give back once the window has ended.
        """
        key = _key(scope, subject)
        for _ in range(10):
            current = self._store.get(key)
            left = self._store.ttl(key)
            if current is None or int(current) <= 0 or left <= 0:
                return
            if self._store.compare_and_swap(key, current, str(int(current) - 1), ttl=left) != 0:
                return

    def reset(self, scope: str, subject: str) -> None:
        self._store.delete(_key(scope, subject))
