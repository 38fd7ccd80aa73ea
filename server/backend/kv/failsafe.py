"""Redis when it answers, the in-process store while it does not (Redis is optional).

What lives in the shared store is either short-lived counting (rate limits, failed
tries) or live events. Neither may take the backend down with Redis: while Redis is
unreachable, counters are kept per process (limits still hold, per replica), events are
dropped (live screens pause and catch up on reload), and a circuit breaker keeps every
call from waiting on a dead or frozen Redis. What must survive (refresh-token families,
single-use tokens) is kept in the database instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from server.backend.errors import ServiceUnavailableError
from server.backend.kv.breaker import CircuitBreaker
from server.backend.kv.pubsub import AsyncSubscription
from server.backend.kv.store import KeyValueStore, MemoryStore, Subscription

T = TypeVar("T")
PAUSED = "Live events are paused: the cache (Redis) cannot be reached; try again shortly."


class FailSafeStore:
    """A `KeyValueStore` over Redis that falls back to a `MemoryStore` during an outage."""

    def __init__(
        self,
        primary: KeyValueStore,
        *,
        fallback: MemoryStore | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._primary = primary
        self._fallback = fallback or MemoryStore()
        self.breaker = breaker or CircuitBreaker("The cache (Redis)")

    def _call(self, operation: Callable[[KeyValueStore], T]) -> T:
        if self.breaker.allow():
            try:
                result = operation(self._primary)
            except ServiceUnavailableError as exc:
                self.breaker.failure(exc.__cause__ or exc)
            else:
                self.breaker.success()
                return result
        return operation(self._fallback)

    def get(self, key: str) -> str | None:
        return self._call(lambda s: s.get(key))

    def set(self, key: str, value: str, *, ttl: int) -> None:
        self._call(lambda s: s.set(key, value, ttl=ttl))

    def take(self, key: str) -> str | None:
        return self._call(lambda s: s.take(key))

    def delete(self, key: str) -> None:
        self._call(lambda s: s.delete(key))

    def incr_window(self, key: str, *, ttl: int) -> int:
        return self._call(lambda s: s.incr_window(key, ttl=ttl))

    def ttl(self, key: str) -> int:
        return self._call(lambda s: s.ttl(key))

    def compare_and_swap(self, key: str, expected: str, new: str, *, ttl: int) -> int:
        return self._call(lambda s: s.compare_and_swap(key, expected, new, ttl=ttl))

    def publish(self, channel: str, message: str) -> None:
        """Publish through Redis, or drop the event while Redis is away (events pause)."""
        if not self.breaker.allow():
            return
        try:
            self._primary.publish(channel, message)
        except ServiceUnavailableError as exc:
            self.breaker.failure(exc.__cause__ or exc)
        else:
            self.breaker.success()

    def subscribe(self, channel: str) -> Subscription:
        if not self.breaker.allow():
            raise ServiceUnavailableError(PAUSED)
        try:
            subscription = self._primary.subscribe(channel)
        except ServiceUnavailableError as exc:
            self.breaker.failure(exc.__cause__ or exc)
            raise ServiceUnavailableError(PAUSED) from exc
        self.breaker.success()
        return subscription

    async def subscribe_async(self, channel: str) -> AsyncSubscription:
        if not self.breaker.allow():
            raise ServiceUnavailableError(PAUSED)
        try:
            subscription = await self._primary.subscribe_async(channel)
        except ServiceUnavailableError as exc:
            self.breaker.failure(exc.__cause__ or exc)
            raise ServiceUnavailableError(PAUSED) from exc
        self.breaker.success()
        return subscription

    def ping(self) -> bool:
        """Whether Redis answers; while the breaker is open, only its trial call asks."""
        if not self.breaker.allow():
            return False
        if self._primary.ping():
            self.breaker.success()
            return True
        self.breaker.failure("no answer to PING")
        return False

    def close(self) -> None:
        self._primary.close()
        self._fallback.close()
