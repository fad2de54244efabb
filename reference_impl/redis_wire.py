"""One pipelined Redis connection for the scripts of the hot path.

redis-py takes a pooled connection, arms its own timeout and checks its pid for every
command: about half the CPU of a round trip on the gateway's miss path. ``RedisWire`` keeps one
connection per worker and matches replies to requests in order (Redis answers a connection's
commands in the order sent), so concurrent requests share it without a pool.

Order is all that pairs a reply with its request, so a request that stops waiting (a
cancellation) closes the connection: a reply that would come late, or never (a link that
drops bytes), must not be taken for the next request's. The next request connects again. A
lost connection fails every request waiting on it with ``ConnectionError``, which
``RedisLink`` turns into ``RedisUnavailable`` like any Redis failure.

The wire bounds its own waits: a reply more than ``reply_timeout_s`` late (or a call's own
``timeout_s``) closes the connection and fails every request waiting on it with
``TimeoutError``. As replies come in order, only the oldest request can be the late one, so
one timer per connection, armed for the oldest request's deadline, does what a timer per
request would (``asyncio.timeout`` arms and cancels a timer per call, a few percent of the CPU
of a cache miss).

Only ``redis://`` URLs (host, port, optional password and database) take this path
(``RedisWire.for_url``); TLS and sockets keep redis-py.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
from collections.abc import Sequence
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import hiredis
from redis.exceptions import NoScriptError, ResponseError


Arg = str | int | bytes


class _WireProtocol(asyncio.Protocol):
    """The connection: requests written as they come, replies handed out in order, and a reply
    later than ``reply_timeout_s`` taken for a lost connection."""

    def __init__(self, reply_timeout_s: float) -> None:
        self._reader = hiredis.Reader()
        self._reply_timeout_s = reply_timeout_s
        self._waiting: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()
        """Each request's reply, and the loop time by which it is due."""
        self._transport: asyncio.WriteTransport | None = None
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.WriteTransport, transport)

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        try:
            while (reply := self._reader.gets()) is not False:
                waiter, _ = self._waiting.popleft()
                if not waiter.done():
                    waiter.set_result(reply)
        except (hiredis.ProtocolError, IndexError):
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
        late = isinstance(exc, TimeoutError)
        while self._waiting:
            waiter, _ = self._waiting.popleft()
            if not waiter.done():  # an exception of its own for each, raised where it waits
                waiter.set_exception(
                    TimeoutError(str(exc))
                    if late
                    else ConnectionError(f"redis connection lost: {exc!r}")
                )

    def close(self, reason: Exception | None = None) -> None:
        """Close now; every request still waiting fails (with ``reason`` if it is a
        ``TimeoutError``, else ``ConnectionError``)."""
        self.closed = True
        if self._transport is not None:
            self._transport.close()
            self.connection_lost(reason)  # at once: a closing transport may report it late

    def _check_oldest(self) -> None:
        """The timer: close if the oldest request is overdue, else wait for its deadline."""
        self._timer = None
        if not self._waiting:
            return
        due = self._waiting[0][1]
        if self._loop.time() >= due:
            self.close(TimeoutError(f"redis did not reply within {self._reply_timeout_s:g} s"))
        else:
            self._timer = self._loop.call_at(due, self._check_oldest)

    async def request(self, args: Sequence[Arg], timeout_s: float | None = None) -> Any:
        """Send one command and wait for its reply; Redis's error replies raise, a reply
        later than ``timeout_s`` (by default the reply timeout) raises ``TimeoutError``."""
        if self.closed or self._transport is None:
            raise ConnectionError("redis connection closed")
        waiter = self._loop.create_future()
        due = self._loop.time() + (self._reply_timeout_s if timeout_s is None else timeout_s)
        self._waiting.append((waiter, due))
        if self._timer is None or self._timer.when() > due:  # none, or set for a patient call
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_at(due, self._check_oldest)
        self._transport.write(hiredis.pack_command(tuple(args)))  # type: ignore[arg-type]  # the stub types a 1-tuple
        try:
            reply = await waiter
        except asyncio.CancelledError:
            self.close()  # its reply may come late or never: keep later replies in order
            raise
        if isinstance(reply, hiredis.ReplyError):
            message = str(reply)
            raise (
                NoScriptError(message) if message.startswith("NOSCRIPT") else ResponseError(message)
            )
        return reply


class RedisWire:
    """A connection to one Redis, opened on first use and again after it is lost."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        connect_timeout_s: float,
        reply_timeout_s: float,
        password: str | None = None,
        username: str | None = None,
        db: int = 0,
    ) -> None:
        self._address = (host, port)
        self._connect_timeout_s = connect_timeout_s
        self.reply_timeout_s = reply_timeout_s
        """A reply later than this fails every request waiting on the connection."""
        self._hello: list[tuple[Arg, ...]] = []
        if password is not None:
            auth = ("AUTH", username, password) if username else ("AUTH", password)
            self._hello.append(auth)
        if db:
            self._hello.append(("SELECT", db))
        self._protocol: _WireProtocol | None = None
        self._connecting = asyncio.Lock()

    @classmethod
    def for_url(
        cls, url: str, *, connect_timeout_s: float, reply_timeout_s: float
    ) -> RedisWire | None:
        """A wire for a ``redis://`` URL, or None for any other kind (TLS, unix sockets)."""
        parts = urlsplit(url)
        if parts.scheme != "redis" or not parts.hostname:
            return None
        database = parts.path.strip("/")
        return cls(
            parts.hostname,
            parts.port or 6379,
            connect_timeout_s=connect_timeout_s,
            reply_timeout_s=reply_timeout_s,
            password=unquote(parts.password) if parts.password else None,
            username=unquote(parts.username) if parts.username else None,
            db=int(database) if database.isdigit() else 0,
        )

    async def call(self, *args: Arg, timeout_s: float | None = None) -> Any:
        """Run one command and return its reply (bytes, int, list or None); ``timeout_s``
        replaces the reply timeout for this call."""
        protocol = self._protocol
        if protocol is None or protocol.closed:
            protocol = await self._connect()
        return await protocol.request(args, timeout_s)

    def register_script(self, source: str) -> WireScript:
        """A Lua script run by its SHA1, loaded again when Redis has lost it."""
        return WireScript(self, source)

    async def close(self) -> None:
        """Close the connection (a later call would open a new one)."""
        if self._protocol is not None:
            self._protocol.close()
            self._protocol = None

    async def _connect(self) -> _WireProtocol:
        async with self._connecting:
            protocol = self._protocol
            if protocol is not None and not protocol.closed:
                return protocol
            loop = asyncio.get_running_loop()
            async with asyncio.timeout(self._connect_timeout_s):
                _, protocol = await loop.create_connection(
                    lambda: _WireProtocol(self.reply_timeout_s), *self._address
                )
                for command in self._hello:
                    await protocol.request(command, self._connect_timeout_s)
            self._protocol = protocol
            return protocol


class WireScript:
    """A Lua script on a ``RedisWire``, called like redis-py's registered scripts."""

    def __init__(self, wire: RedisWire, source: str) -> None:
        self._wire = wire
        self._source = source
        self._sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(
        self,
        keys: Sequence[Arg] = (),
        args: Sequence[Arg] = (),
        client: object = None,  # noqa: ARG002 - redis-py's signature
    ) -> Any:
        """Run the script (``client`` is accepted for redis-py's signature, and unused)."""
        try:
            return await self._wire.call("EVALSHA", self._sha, len(keys), *keys, *args)
        except NoScriptError:
            return await self._wire.call("EVAL", self._source, len(keys), *keys, *args)
