"""The open-loop engine: fire every scheduled request on time, whatever is still outstanding.

The schedule, not the responses, decides when requests go out, so a stalled target shows as
latency instead of as fewer requests (no coordinated omission). The sender sleeps until the
next intended time and then fires every request that is due as its own task; it never waits
for an answer. Each request's figures go into preallocated numpy columns (see ``op``).

Outcomes: a 2xx response with a well-formed body is ``ok``; an error status, a refused or cut
connection, or a malformed body is ``fail``; a client timeout is ``info``, since the request
may still have succeeded upstream. So is a request the generator could not make for want of
its own resources (``ErrorKind.CLIENT``, e.g. out of file descriptors): that is the harness's
failure, not the target's, and ``LoadResult.shortfall`` reports it.
"""

from __future__ import annotations

import asyncio
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import numpy as np
from yarl import URL

from .endpoints import HttpRequest, RequestSpec, endpoint
from .hdr import DurationHistogram
from .op import ErrorKind, OpTable, Outcome, ops_for
from .open_files import CLIENT_ERRNOS, connection_cap
from .response import BodyFacts, HeaderFacts, ProtocolError, StreamReader, read_json_body
from .schedule import Schedule
from .stream_timing import stream_timing
from .target import Target
from .workload import Workload


TIMER_RESOLUTION_S = 0.001
"""uvloop's timers (and its ``loop.time()``) tick in whole milliseconds."""

now = time.perf_counter
"""The measuring clock: monotonic with sub-microsecond resolution, unlike ``loop.time()``."""


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
        self._workload = workload
        self._schedule = schedule
        self._target = target
        self._endpoints = [endpoint(name) for name in schedule.endpoints]
        keys = {share.name: share.api_key for share in workload.tenants}
        self._api_keys = [keys.get(name) or target.api_key for name in schedule.tenants]
        base = target.base_url.rstrip("/")
        self._urls: dict[str, URL] = {}
        self._base = base
        self._ops = ops_for(schedule)
        self._columns = {name: self._ops[name] for name in self._ops.dtype.names or ()}
        self._models: list[str] = []
        self._gaps = array("d")
        self.live = LiveCounts(scheduled=len(schedule))
        self._start = 0.0

    async def run(
        self, *, start_at: float | None = None, progress: Progress | None = None
    ) -> EngineResult:
        """Send the whole schedule, starting at ``start_at`` on the ``now`` clock (default: now)."""
        loop = asyncio.get_running_loop()
        self._start = now() if start_at is None else start_at
        connector = aiohttp.TCPConnector(
            limit=connection_cap(self._target.max_connections), limit_per_host=0
        )
        timeout = aiohttp.ClientTimeout(total=self._target.timeout_s)
        reporter = asyncio.create_task(self._report(progress)) if progress else None
        try:
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                await self._send_all(session, loop)
        finally:
            if reporter:
                reporter.cancel()
        if progress:
            progress(self.live)
        itl = DurationHistogram()
        itl.record_many(np.frombuffer(self._gaps, dtype=np.float64))
        tables = self._schedule.tenants, self._schedule.endpoints, tuple(self._models)
        return EngineResult(OpTable(self._ops, *tables), itl)

    async def _send_all(
        self, session: aiohttp.ClientSession, loop: asyncio.AbstractEventLoop
    ) -> None:
        intended = self._schedule.intended_s.tolist()
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
            await asyncio.sleep(0.5)
            progress(self.live)

    def _request(self, index: int) -> HttpRequest:
        s = self._schedule
        tenant = int(s.tenant[index])
        spec = RequestSpec(
            tenant=s.tenants[tenant],
            api_key=self._api_keys[tenant],
            prompt=self._workload.prompts.text(int(s.prompt[index])),
            model=self._workload.model,
            max_tokens=self._workload.max_tokens,
        )
        return self._endpoints[int(s.endpoint[index])].build(spec)

    def _url(self, path: str) -> URL:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = URL(self._base + path)
        return url

    async def _one(self, session: aiohttp.ClientSession, index: int) -> None:
        ops, start = self._columns, self._start
        sent = now() - start
        ops["sent_s"][index] = sent
        self.live.sent += 1
        request = self._request(index)
        outcome, error, status = Outcome.FAIL, ErrorKind.NONE, 0
        try:
            async with session.request(
                request.method, self._url(request.path), data=request.body, headers=request.headers
            ) as response:
                ops["first_byte_s"][index] = now() - start
                status = response.status
                flags = HeaderFacts.read(response.headers)
                facts = await self._read_body(response, request, index)
            self._record_facts(index, flags, facts)
            if 200 <= status < 300:  # noqa: PLR2004 - the 2xx class
                outcome = Outcome.OK
            else:
                error = ErrorKind.HTTP
        except TimeoutError:
            outcome, error = Outcome.INFO, ErrorKind.TIMEOUT
        except aiohttp.ClientConnectorError as exc:
            if exc.os_error.errno in CLIENT_ERRNOS:
                outcome, error = Outcome.INFO, ErrorKind.CLIENT
            else:
                error = ErrorKind.CONNECT
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, aiohttp.ClientPayloadError):
            error = ErrorKind.DISCONNECT
        except (ProtocolError, aiohttp.ClientResponseError):
            error = ErrorKind.PROTOCOL
        end = now() - start
        ops["end_s"][index] = end
        ops["status"][index] = status
        ops["outcome"][index] = outcome
        ops["error"][index] = error
        live = self.live
        live.done += 1
        if outcome is Outcome.INFO:
            live.unknown += 1
        elif outcome is Outcome.FAIL:
            live.failed += 1
        live.latency.record(end - float(self._schedule.intended_s[index]))

    async def _read_body(
        self,
        response: aiohttp.ClientResponse,
        request: HttpRequest,
        index: int,
    ) -> BodyFacts:
        if not (request.stream and response.status == 200):  # noqa: PLR2004 - only a 200 streams
            data = await response.read()
            if response.status < 300:  # noqa: PLR2004 - error bodies may be anything
                return read_json_body(data)
            return BodyFacts()
        reader = StreamReader()
        start = self._start
        async for line in response.content:
            reader.feed(line, now() - start)
        facts = reader.finish()
        timing = stream_timing(
            float(self._schedule.intended_s[index]), reader.token_times_s, facts.completion_tokens
        )
        ops = self._columns
        ops["ttft_s"][index] = timing.ttft_s
        ops["tpot_s"][index] = timing.tpot_s
        ops["itl_max_s"][index] = timing.itl_max_s
        self._gaps.extend(timing.itl_s)
        return facts

    def _record_facts(self, index: int, flags: HeaderFacts, facts: BodyFacts) -> None:
        ops = self._columns
        ops["cache"][index] = flags.cache
        ops["degraded"][index] = flags.degraded or facts.degraded
        ops["budget_warning"][index] = flags.budget_warning
        ops["prompt_tokens"][index] = facts.prompt_tokens
        ops["completion_tokens"][index] = facts.completion_tokens
        if facts.model is not None:
            if facts.model not in self._models:
                self._models.append(facts.model)
            ops["model"][index] = self._models.index(facts.model)
