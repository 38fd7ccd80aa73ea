"""The shared key-value store: rate limits, single-use tokens, refresh-token families, events.

Two implementations of one protocol. `RedisStore` is what production replicas share, so
they behave as one; `MemoryStore` serves the embedded single-process default. Every
operation that must not race across replicas (counting, taking a single-use token,
rotating a family) is one atomic step in both.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from server.backend.errors import ServiceUnavailableError
from server.backend.kv.pubsub import AsyncSubscription, LoopQueue, redis_subscribe

# Seconds to wait on Redis for a connection or an answer before calling it unreachable.
SOCKET_TIMEOUT = 0.5

# INCR then set the window's expiry only on the first hit, atomically.
_INCR_WINDOW = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""
# Replace the value only if it is still the expected one; report what was found.
_COMPARE_AND_SWAP = """
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
if current then return 0 end
return -1
"""


class Subscription(Protocol):
    """Messages published on one channel after subscribing."""

    def get(self, timeout: float) -> str | None: ...

    def close(self) -> None: ...


class KeyValueStore(Protocol):
    """What the backend needs from Redis (or its in-process stand-in)."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str, *, ttl: int) -> None: ...

    def take(self, key: str) -> str | None:
        """Return and delete the value in one step: a single-use token is used once."""

    def delete(self, key: str) -> None: ...

    def incr_window(self, key: str, *, ttl: int) -> int:
        """Count a hit in a fixed window of `ttl` seconds that starts at the first hit."""

    def ttl(self, key: str) -> int:
        """Seconds before `key` expires; 0 when it does not exist."""

    def compare_and_swap(self, key: str, expected: str, new: str, *, ttl: int) -> int:
        """Set `new` if the value is `expected` (1); 0 if it differs; -1 if absent."""

    def publish(self, channel: str, message: str) -> None: ...

    def subscribe(self, channel: str) -> Subscription: ...

    async def subscribe_async(self, channel: str) -> AsyncSubscription:
        """A subscription awaited on the event loop (live-event streams)."""

    def ping(self) -> bool: ...

    def close(self) -> None: ...


class MemoryStore:
    """In-process store for the embedded default; correct only within one process.

    Expired keys are dropped when read, and swept every `sweep_every` seconds on
    writes, so keys that are never read again (one-off rate-limit subjects) do not
    pile up for the life of the process.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, sweep_every: float = 60.0
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[str, tuple[str, float]] = {}
        self._channels: dict[str, list[_MemorySubscription | LoopQueue]] = {}
        self._sweep_every = sweep_every
        self._next_sweep = clock() + sweep_every

    def __len__(self) -> int:
        """Keys held, expired ones not yet swept included."""
        return len(self._values)

    def _sweep_if_due(self) -> None:
        now = self._clock()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self._sweep_every
        for key in [k for k, (_v, expires) in self._values.items() if expires <= now]:
            del self._values[key]

    def _live(self, key: str) -> str | None:
        item = self._values.get(key)
        if item is None:
            return None
        if item[1] <= self._clock():
            del self._values[key]
            return None
        return item[0]

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._live(key)

    def set(self, key: str, value: str, *, ttl: int) -> None:
        with self._lock:
            self._sweep_if_due()
            self._values[key] = (value, self._clock() + ttl)

    def take(self, key: str) -> str | None:
        with self._lock:
            value = self._live(key)
            self._values.pop(key, None)
            return value

    def delete(self, key: str) -> None:
        with self._lock:
            self._values.pop(key, None)

    def incr_window(self, key: str, *, ttl: int) -> int:
        with self._lock:
            self._sweep_if_due()
            current = self._live(key)
            if current is None:
                self._values[key] = ("1", self._clock() + ttl)
                return 1
            count = int(current) + 1
            self._values[key] = (str(count), self._values[key][1])
            return count

    def ttl(self, key: str) -> int:
        with self._lock:
            if self._live(key) is None:
                return 0
            return max(1, round(self._values[key][1] - self._clock()))

    def compare_and_swap(self, key: str, expected: str, new: str, *, ttl: int) -> int:
        with self._lock:
            current = self._live(key)
            if current is None:
                return -1
            if current != expected:
                return 0
            self._values[key] = (new, self._clock() + ttl)
            return 1

    def publish(self, channel: str, message: str) -> None:
        with self._lock:
            subscribers = list(self._channels.get(channel, ()))
        for subscriber in subscribers:
            subscriber.put(message)

    def subscribe(self, channel: str) -> Subscription:
        subscription = _MemorySubscription(lambda s: self._unsubscribe(channel, s))
        with self._lock:
            self._channels.setdefault(channel, []).append(subscription)
        return subscription

    async def subscribe_async(self, channel: str) -> AsyncSubscription:
        subscription = LoopQueue(lambda s: self._unsubscribe(channel, s))
        with self._lock:
            self._channels.setdefault(channel, []).append(subscription)
        return subscription

    def _unsubscribe(self, channel: str, subscription: _MemorySubscription | LoopQueue) -> None:
        with self._lock:
            self._channels.get(channel, []).remove(subscription)

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        with self._lock:
            self._values.clear()


class _MemorySubscription:
    def __init__(self, on_close: Callable[[_MemorySubscription], None]) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        self._on_close = on_close

    def put(self, message: str) -> None:
        self.queue.put(message)

    def get(self, timeout: float) -> str | None:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._on_close(self)


def _text(value: bytes | str | None) -> str | None:
    if isinstance(value, bytes):
        return value.decode()
    return value


@contextmanager
def _redis_errors() -> Iterator[None]:
    """Map redis-py's exceptions to the backend's own at this one boundary."""
    try:
        yield
    except redis.RedisError as exc:
        raise ServiceUnavailableError(f"The cache (Redis) cannot be reached: {exc}") from exc


class RedisStore:
    """Store shared by every replica; keys live under one prefix."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "sonta:",
        async_client: redis.asyncio.Redis | None = None,
    ) -> None:
        self._client = client
        self._async = async_client
        self._prefix = prefix
        self._incr = client.register_script(_INCR_WINDOW)
        self._cas = client.register_script(_COMPARE_AND_SWAP)

    def _k(self, key: str) -> str:
        return self._prefix + key

    def get(self, key: str) -> str | None:
        with _redis_errors():
            return _text(self._client.get(self._k(key)))

    def set(self, key: str, value: str, *, ttl: int) -> None:
        with _redis_errors():
            self._client.set(self._k(key), value, ex=ttl)

    def take(self, key: str) -> str | None:
        with _redis_errors():
            return _text(self._client.getdel(self._k(key)))

    def delete(self, key: str) -> None:
        with _redis_errors():
            self._client.delete(self._k(key))

    def incr_window(self, key: str, *, ttl: int) -> int:
        with _redis_errors():
            return int(self._incr(keys=[self._k(key)], args=[ttl]))

    def ttl(self, key: str) -> int:
        with _redis_errors():
            return max(0, int(self._client.ttl(self._k(key))))

    def compare_and_swap(self, key: str, expected: str, new: str, *, ttl: int) -> int:
        with _redis_errors():
            return int(self._cas(keys=[self._k(key)], args=[expected, new, ttl]))

    def publish(self, channel: str, message: str) -> None:
        with _redis_errors():
            self._client.publish(self._k(channel), message)

    def subscribe(self, channel: str) -> Subscription:
        """Subscribe and wait for Redis to confirm, so no later publish can be missed."""
        with _redis_errors():
            pubsub = self._client.pubsub()  # type: ignore[no-untyped-call]
            pubsub.subscribe(self._k(channel))
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline:
                message = pubsub.get_message(timeout=0.5)
                if message is not None and message["type"] == "subscribe":
                    return _RedisSubscription(pubsub)
        pubsub.close()
        raise ServiceUnavailableError("The cache (Redis) did not confirm a subscription.")

    async def subscribe_async(self, channel: str) -> AsyncSubscription:
        if self._async is None:
            raise ServiceUnavailableError("This store was built without an asyncio client.")
        return await redis_subscribe(self._async, self._k(channel))

    def ping(self) -> bool:
        try:
            return bool(self._client.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        self._client.close()


class _RedisSubscription:
    def __init__(self, pubsub: redis.client.PubSub) -> None:
        self._pubsub = pubsub

    def get(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            with _redis_errors():
                message = self._pubsub.get_message(timeout=remaining)
            if message is not None and message["type"] == "message":
                return str(message["data"])
        return None

    def close(self) -> None:
        self._pubsub.close()


def redis_client(
    *, host: str | None, port: int, password: str | None, url: str | None
) -> redis.Redis:
    client: redis.Redis = _client(redis.Redis, host=host, port=port, password=password, url=url)
    return client


def redis_async_client(
    *, host: str | None, port: int, password: str | None, url: str | None
) -> redis.asyncio.Redis:
    """The asyncio twin of `redis_client`, for streams awaited on the event loop."""
    client: redis.asyncio.Redis = _client(
        redis.asyncio.Redis, host=host, port=port, password=password, url=url
    )
    return client


def _client(
    kind: Any, *, host: str | None, port: int, password: str | None, url: str | None
) -> Any:
    """A client from REDIS_URL (e.g. rediss:// for TLS) or from host, port and password.

    One quick retry (a pooled connection may be stale after a Redis restart), then
    fail fast: Redis answers in well under a millisecond on a working network, and a
    frozen one must not hold a request for seconds (see `failsafe_store`).
    """
    options: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": SOCKET_TIMEOUT,
        "socket_connect_timeout": SOCKET_TIMEOUT,
    }
    backoff = ExponentialBackoff(cap=0.2, base=0.05)
    asyncio_client = kind is redis.asyncio.Redis
    options["retry"] = (AsyncRetry if asyncio_client else Retry)(backoff, retries=1)
    if url:
        return kind.from_url(url, **options)
    return kind(host=host or "localhost", port=port, password=password, **options)
