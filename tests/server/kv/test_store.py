"""Both stores keep the same promises: atomic counters, single-use takes, CAS, pub/sub."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator

import pytest
import redis

from server.backend.errors import ServiceUnavailableError
from server.backend.kv.store import KeyValueStore, MemoryStore, RedisStore, redis_client
from tests.server.conftest import REDIS


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest, redis_prefix: str) -> Iterator[KeyValueStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    client = redis.Redis(**REDIS, decode_responses=True)  # type: ignore[arg-type]
    yield RedisStore(client, prefix=f"{redis_prefix}store-{secrets.token_hex(4)}:")
    client.close()


def test_take_returns_a_value_once(store: KeyValueStore) -> None:
    store.set("token", "admin-1", ttl=60)
    assert store.take("token") == "admin-1"
    assert store.take("token") is None


def test_concurrent_takes_yield_exactly_one_winner(store: KeyValueStore) -> None:
    store.set("ticket", "meeting", ttl=60)
    results: list[str | None] = []
    threads = [
        threading.Thread(target=lambda: results.append(store.take("ticket"))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("meeting") == 1


def test_incr_window_counts_and_expires(store: KeyValueStore) -> None:
    assert [store.incr_window("hits", ttl=60) for _ in range(3)] == [1, 2, 3]
    assert 0 < store.ttl("hits") <= 60
    assert store.ttl("absent") == 0


def test_compare_and_swap_reports_match_mismatch_and_absence(store: KeyValueStore) -> None:
    store.set("family", "jti-1", ttl=60)
    assert store.compare_and_swap("family", "jti-1", "jti-2", ttl=60) == 1
    assert store.compare_and_swap("family", "jti-1", "jti-3", ttl=60) == 0
    assert store.get("family") == "jti-2"
    assert store.compare_and_swap("nothing", "a", "b", ttl=60) == -1


def test_published_events_reach_subscribers(store: KeyValueStore) -> None:
    subscription = store.subscribe("events")
    try:
        store.publish("events", "meeting started")
        assert subscription.get(timeout=2.0) == "meeting started"
        assert subscription.get(timeout=0.05) is None
    finally:
        subscription.close()


def test_memory_store_values_expire() -> None:
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    store.set("k", "v", ttl=10)
    now[0] += 11
    assert store.get("k") is None


def test_unreachable_redis_is_a_service_error_not_a_crash() -> None:
    store = RedisStore(redis_client(host="127.0.0.1", port=9, password=None, url=None))
    assert store.ping() is False
    with pytest.raises(ServiceUnavailableError, match="cannot be reached"):
        store.get("anything")


def test_memory_store_forgets_expired_keys_that_are_never_read_again() -> None:
    now = [0.0]
    store = MemoryStore(clock=lambda: now[0], sweep_every=60)
    for n in range(5000):
        store.incr_window(f"rl:login-client:{n}", ttl=900)
    assert len(store) == 5000
    now[0] += 901
    store.set("fresh", "1", ttl=60)
    assert len(store) == 1
