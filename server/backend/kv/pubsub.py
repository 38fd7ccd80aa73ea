"""Subscriptions an event stream awaits on the event loop, so an open stream holds no thread.

A live-event stream used to wait on its subscription in a worker thread: sixty open
streams took sixty of the forty shared threads, and every other request waited. Here a
stream awaits `AsyncSubscription.get` instead: redis.asyncio for Redis, an asyncio
queue fed from the publishing thread for the in-process store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

import redis
import redis.asyncio

from server.backend.errors import ServiceUnavailableError

# Seconds to wait for Redis to confirm a subscription.
CONFIRM_SECONDS = 5.0


class AsyncSubscription(Protocol):
    """Messages published on one channel after subscribing."""

    async def get(self, timeout: float) -> str | None: ...

    async def close(self) -> None: ...


class LoopQueue:
    """Hands messages published on any thread to a queue of one event loop."""

    def __init__(self, on_close: Callable[[LoopQueue], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._on_close = on_close

    def put(self, message: str) -> None:
        """Called by the publisher, from whatever thread it runs on."""
        self._loop.call_soon_threadsafe(self._queue.put_nowait, message)

    async def get(self, timeout: float) -> str | None:
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    async def close(self) -> None:
        self._on_close(self)


class RedisAsyncSubscription:
    def __init__(self, pubsub: Any) -> None:
        self._pubsub = pubsub

    async def get(self, timeout: float) -> str | None:
        try:
            message = await self._pubsub.get_message(
                ignore_subscribe_messages=True, timeout=timeout
            )
        except redis.RedisError as exc:
            raise ServiceUnavailableError(f"The cache (Redis) cannot be reached: {exc}") from exc
        return None if message is None else str(message["data"])

    async def close(self) -> None:
        await self._pubsub.aclose()


async def redis_subscribe(client: redis.asyncio.Redis, channel: str) -> AsyncSubscription:
    """Subscribe and wait for Redis to confirm, so no later publish can be missed."""
    pubsub: Any = client.pubsub()
    try:
        async with asyncio.timeout(CONFIRM_SECONDS):
            await pubsub.subscribe(channel)
            while True:
                message = await pubsub.get_message(timeout=CONFIRM_SECONDS)
                if message is not None and message["type"] == "subscribe":
                    return RedisAsyncSubscription(pubsub)
    except (redis.RedisError, TimeoutError) as exc:
        await pubsub.aclose()
        raise ServiceUnavailableError(f"The cache (Redis) cannot be reached: {exc}") from exc
