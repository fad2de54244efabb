"""The open-loop engine: fire every scheduled request on time, whatever is still outstanding.

The schedule, not the responses, decides when requests go out, so a stalled target shows as
latency instead of as fewer requests (no coordinated omission). The sender sleeps until the
next intended time and then fires every request that is due as its own task; it never waits
for an answer. Requests are built and recorded by ``recording.OpRecorder``.

Outcomes: a 2xx response with a well-formed body is ``ok``; an error status, a refused or cut
connection, or a malformed body is ``fail``; a client timeout is ``info``, since the request
may still have succeeded upstream. So is a request the generator could not make for want of
its own resources (``ErrorKind.CLIENT``, e.g. out of file descriptors) or by a bug of its own
(``ErrorKind.INTERNAL``): those are the harness's failures, not the target's, and
``LoadResult.shortfall`` reports them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from yarl import URL

from .hdr import DurationHistogram
from .op import ErrorKind, OpTable, Outcome
from .open_files import CLIENT_ERRNOS, connection_cap
from .recording import OpRecorder, body_facts, now, status_outcome, streams
from .response import BodyFacts, HeaderFacts, ProtocolError, StreamReader
from .schedule import Schedule
from .target import Target
from .workload import Workload


TIMER_RESOLUTION_S = 0.001
"""uvloop's timers (and its ``loop.time()``) tick in whole milliseconds."""

PROGRESS_EVERY_S = 0.5

_log = logging.getLogger(__name__)


@dataclass
class LiveCounts:
    """Progress of one engine: counters and the latency of completed requests so far."""

    scheduled: int
    sent: int = 0
    done: int = 0
    failed: int = 0
    unknown: int = 0

    def __post_init__(self) -> None:
        self.latency = DurationHistogram()


@dataclass(frozen=True, eq=False)
class EngineResult:
    """One engine's Ops and the per-gap inter-token latencies of its streams."""

    table: OpTable
    itl: DurationHistogram


Progress = Callable[[LiveCounts], None]


class OpenLoopEngine:
    """Sends ``schedule`` (a slice of ``workload``'s) to ``target`` open-loop."""

    def __init__(self, workload: Workload, schedule: Schedule, target: Target) -> None:
        self._recorder = OpRecorder(
            workload, schedule, api_key=target.api_key, traced=target.traceparent
        )
        self._target = target
        self._base = target.base_url.rstrip("/")
        self._urls: dict[str, URL] = {}
        self.live = LiveCounts(scheduled=len(schedule))
        self._start = 0.0

    async def run(
        self, *, start_at: float | None = None, progress: Progress | None = None
    ) -> EngineResult:
        """Send the whole schedule, starting at ``start_at`` on the ``now`` clock (default: now)."""
        self._start = now() if start_at is None else start_at
        connector = aiohttp.TCPConnector(
            limit=connection_cap(self._target.max_connections), limit_per_host=0
        )
        timeout = aiohttp.ClientTimeout(total=self._target.timeout_s)
        reporter = asyncio.create_task(self._report(progress)) if progress else None
        try:
            async with aiohttp.ClientSession(
                connector=connector, timeout=timeout, headers=dict(self._target.headers)
            ) as session:
                await self._send_all(session)
        finally:
            if reporter:
                reporter.cancel()
        if progress:
            progress(self.live)
        return EngineResult(self._recorder.table(), self._recorder.itl())

    async def _send_all(self, session: aiohttp.ClientSession) -> None:
        loop = asyncio.get_running_loop()
        intended = self._recorder.schedule.intended_s.tolist()
        start = self._start
        outstanding: set[asyncio.Task[None]] = set()
        index, count = 0, len(intended)
        while index < count:
            current = now()
            while index < count and start + intended[index] <= current:
                task = loop.create_task(self._one(session, index))
                outstanding.add(task)
                task.add_done_callback(outstanding.discard)
                index += 1
            if index < count:
                # A sleep shorter than the timer resolution would spin.
                await asyncio.sleep(max(start + intended[index] - now(), TIMER_RESOLUTION_S))
        while outstanding:
            await asyncio.wait(set(outstanding))

    async def _report(self, progress: Progress) -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY_S)
            progress(self.live)

    def _url(self, path: str) -> URL:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = URL(self._base + path)
        return url

    async def _one(self, session: aiohttp.ClientSession, index: int) -> None:
        recorder, start = self._recorder, self._start
        recorder.sent(index, now() - start)
        self.live.sent += 1
        request = recorder.request(index)
        status = 0
        try:
            async with session.request(
                request.method, self._url(request.path), data=request.body, headers=request.headers
            ) as response:
                recorder.first_byte(index, now() - start)
                status = response.status
                flags = HeaderFacts.read(response.headers)
                if streams(request, status):
                    facts = await self._read_stream(response, index)
                else:
                    facts = body_facts(status, await response.read())
            recorder.answered(index, flags, facts)
            outcome, error = status_outcome(status)
        except Exception as exc:  # noqa: BLE001 - every request ends with a recorded outcome
            outcome, error = _classify(exc)
        end = now() - start
        recorder.ended(index, end, status=status, outcome=outcome, error=error)
        live = self.live
        live.done += 1
        if outcome is Outcome.INFO:
            live.unknown += 1
        elif outcome is Outcome.FAIL:
            live.failed += 1
        live.latency.record(end - recorder.intended_s(index))

    async def _read_stream(self, response: aiohttp.ClientResponse, index: int) -> BodyFacts:
        reader = StreamReader()
        start = self._start
        async for line in response.content:
            reader.feed(line, now() - start)
        facts = reader.finish()
        self._recorder.streamed(index, reader, facts)
        return facts


def _classify(exc: Exception) -> tuple[Outcome, ErrorKind]:
    """The outcome and error kind of a request that raised ``exc``."""
    if isinstance(exc, TimeoutError):
        return Outcome.INFO, ErrorKind.TIMEOUT
    if isinstance(exc, aiohttp.ClientConnectorError):
        if exc.os_error.errno in CLIENT_ERRNOS:
            return Outcome.INFO, ErrorKind.CLIENT
        return Outcome.FAIL, ErrorKind.CONNECT
    if isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
        return Outcome.FAIL, ErrorKind.DISCONNECT
    if isinstance(exc, ProtocolError | aiohttp.ClientError | ValueError):
        return Outcome.FAIL, ErrorKind.PROTOCOL
    _log.error("request failed inside the load generator", exc_info=exc)
    return Outcome.INFO, ErrorKind.INTERNAL
