"""Wake waiters in other worker processes without polling: one Redis pub/sub channel.

Each worker process holds one pub/sub connection, subscribed to one channel for all topics;
a message's data is the topic (for coalescing, a flight key). Local waiters are futures by
topic. Messages are published by Lua scripts elsewhere, in the same round trip as the write
they announce, so announcing costs nothing extra.

Pub/sub delivers at most once, and nothing while disconnected. Hence a wake is a hint to
re-check shared state, never a proof: every waiter is woken when the connection is lost and
whenever the channel is (re)subscribed, including the silent reconnects of redis-py, so no
waiter sleeps through a message it missed. While ``listening`` is False no wake will come,
and callers must not wait for one. The listener reconnects after errors and never raises
into the application.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging

import redis.asyncio as redis
from redis.exceptions import RedisError


log = logging.getLogger(__name__)


class Notifier:
    """One pub/sub listener per worker process, resolving local waiters by topic."""

    def __init__(
        self,
        client: redis.Redis | None,
        *,
        channel: str = "meltproof:flights",
        reconnect_s: float = 0.5,
        start_timeout_s: float = 1.0,
    ) -> None:
        self._client = client
        self.channel = channel
        self._reconnect_s = reconnect_s
        self._start_timeout_s = start_timeout_s
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        self._listening = False
        self._first_attempt = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        """Whether a publish on the channel reaches this process now."""
        return self._listening

    @property
    def waiting(self) -> int:
        """How many waiters are registered (for metrics; 0 when idle)."""
        return sum(len(waiters) for waiters in self._waiters.values())

    async def start(self) -> None:
        """Start listening; return once subscribed, failed once, or after ``start_timeout_s``."""
        if self._client is None or self._task is not None:
            return
        self._first_attempt.clear()
        self._task = asyncio.create_task(self._listen_forever(self._client), name="notifier")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._start_timeout_s):
                await self._first_attempt.wait()

    async def stop(self) -> None:
        """Stop listening and wake every waiter (nothing will wake them any more)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})
        self._set_listening(listening=False)

    def waiter(self, topic: str) -> asyncio.Future[None]:
        """A future resolved when ``topic`` is published; cancel it to stop waiting."""
        future = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(topic, set()).add(future)
        future.add_done_callback(functools.partial(self._forget, topic))
        return future

    def _forget(self, topic: str, future: asyncio.Future[None]) -> None:
        waiters = self._waiters.get(topic)
        if waiters is not None:
            waiters.discard(future)
            if not waiters:
                del self._waiters[topic]

    def _wake(self, topic: str) -> None:
        for future in self._waiters.pop(topic, set()):
            if not future.done():
                future.set_result(None)

    def _wake_all(self) -> None:
        for topic in list(self._waiters):
            self._wake(topic)

    def _set_listening(self, *, listening: bool) -> None:
        """Record the state; a (re)subscription or a loss may have hidden a message: wake all."""
        was_listening, self._listening = self._listening, listening
        if listening or was_listening:
            self._wake_all()

    async def _listen_forever(self, client: redis.Redis) -> None:
        while True:
            try:
                await self._listen(client)
            except Exception as exc:  # noqa: BLE001 - the listener must outlive any failure
                if self._listening or not self._first_attempt.is_set():
                    log.warning("channel %s unavailable, retrying: %r", self.channel, exc)
            finally:
                self._set_listening(listening=False)
                self._first_attempt.set()
            await asyncio.sleep(self._reconnect_s)

    async def _listen(self, client: redis.Redis) -> None:
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(self.channel)
            async for message in pubsub.listen():
                if message["type"] == "subscribe":
                    self._set_listening(listening=True)
                    self._first_attempt.set()
                elif message["type"] == "message":
                    data = message["data"]
                    self._wake(data.decode() if isinstance(data, bytes) else str(data))
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # redis-py leaves it untyped
