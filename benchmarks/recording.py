"""The I/O-free half of a load client: each scheduled request, and what became of it.

The asyncio engine and the Locust replay differ only in how they send; both build requests
and record outcomes here, so that one rule decides what a row says. Times are seconds from
the run's start, measured by the caller.
"""

from __future__ import annotations

import dataclasses
import time
from array import array

import numpy as np

from .endpoints import HttpRequest, endpoint
from .hdr import DurationHistogram
from .op import ErrorKind, OpArray, OpTable, Outcome, ops_for
from .response import BodyFacts, HeaderFacts, StreamReader, read_json_body
from .schedule import Schedule
from .stream_timing import stream_timing
from .trace_context import HEADER, TraceIds, traceparent
from .workload import Workload


now = time.perf_counter
"""The measuring clock of every load client: monotonic, sub-microsecond (unlike uvloop's
``loop.time()``, which ticks in milliseconds), and one for the whole machine."""

GAPS_BUFFERED = 100_000
"""Inter-token gaps kept as floats before they go into the histogram (bounds memory)."""


def streams(request: HttpRequest, status: int) -> bool:
    """Whether the response body is an SSE stream (only a 200 to a streaming request is)."""
    return request.stream and status == 200  # noqa: PLR2004 - the one status that streams


def body_facts(status: int, data: bytes) -> BodyFacts:
    """Facts of a complete body; error bodies may be anything, so only 2xx ones are read."""
    return read_json_body(data) if status < 300 else BodyFacts()  # noqa: PLR2004 - the 2xx class


def status_outcome(status: int) -> tuple[Outcome, ErrorKind]:
    """A response that arrived whole: ok for 2xx, else an HTTP error."""
    if 200 <= status < 300:  # noqa: PLR2004 - the 2xx class
        return Outcome.OK, ErrorKind.NONE
    return Outcome.FAIL, ErrorKind.HTTP


class OpRecorder:
    """Builds the requests of ``schedule`` (a slice of ``workload``'s) and records each one."""

    def __init__(
        self,
        workload: Workload,
        schedule: Schedule,
        *,
        api_key: str | None,
        traced: bool = False,
    ) -> None:
        """``traced``: every request starts a sampled W3C trace, recorded with its row."""
        self.schedule = schedule
        self.ops: OpArray = ops_for(schedule)
        self._columns = {name: self.ops[name] for name in self.ops.dtype.names or ()}
        self._workload = workload
        self._endpoints = [endpoint(name) for name in schedule.endpoints]
        keys = {share.name: share.api_key for share in workload.tenants}
        self._api_keys = [keys.get(name) or api_key for name in schedule.tenants]
        self._intended: list[float] = schedule.intended_s.tolist()
        self.models: list[str] = []
        self._gaps = array("d")
        self._itl = DurationHistogram()
        self._trace_ids = TraceIds() if traced else None

    def request(self, index: int) -> HttpRequest:
        """The HTTP request of row ``index``."""
        s = self.schedule
        spec = self._workload.request_spec(s, index, self._api_keys[int(s.tenant[index])])
        request = self._endpoints[int(s.endpoint[index])].build(spec)
        if self._trace_ids is None:
            return request
        high, low, parent = self._trace_ids.draw()
        self._columns["trace_hi"][index] = high
        self._columns["trace_lo"][index] = low
        headers = {**request.headers, HEADER: traceparent(high, low, parent)}
        return dataclasses.replace(request, headers=headers)

    def intended_s(self, index: int) -> float:
        """When row ``index`` was due."""
        return self._intended[index]

    def sent(self, index: int, at_s: float) -> None:
        """The client began the request."""
        self._columns["sent_s"][index] = at_s

    def first_byte(self, index: int, at_s: float) -> None:
        """The response headers arrived."""
        self._columns["first_byte_s"][index] = at_s

    def answered(self, index: int, flags: HeaderFacts, facts: BodyFacts) -> None:
        """What the response's headers and body said."""
        ops = self._columns
        ops["cache"][index] = flags.cache
        ops["degraded"][index] = flags.degraded or facts.degraded
        ops["budget_warning"][index] = flags.budget_warning
        ops["prompt_tokens"][index] = facts.prompt_tokens
        ops["completion_tokens"][index] = facts.completion_tokens
        if facts.model is not None:
            if facts.model not in self.models:
                self.models.append(facts.model)
            ops["model"][index] = self.models.index(facts.model)

    def streamed(self, index: int, reader: StreamReader, facts: BodyFacts) -> None:
        """TTFT, TPOT and the inter-token gaps of a complete stream."""
        timing = stream_timing(self._intended[index], reader.token_times_s, facts.completion_tokens)
        ops = self._columns
        ops["ttft_s"][index] = timing.ttft_s
        ops["tpot_s"][index] = timing.tpot_s
        ops["itl_max_s"][index] = timing.itl_max_s
        self._gaps.extend(timing.itl_s)
        if len(self._gaps) >= GAPS_BUFFERED:
            self._flush_gaps()

    def ended(
        self, index: int, at_s: float, *, status: int, outcome: Outcome, error: ErrorKind
    ) -> None:
        """The request is over: answered, failed or given up."""
        ops = self._columns
        ops["end_s"][index] = at_s
        ops["status"][index] = status
        ops["outcome"][index] = outcome
        ops["error"][index] = error

    def itl(self) -> DurationHistogram:
        """Every inter-token gap recorded so far."""
        self._flush_gaps()
        return self._itl

    def table(self) -> OpTable:
        """The rows as they stand, with their name tables."""
        s = self.schedule
        return OpTable(self.ops, s.tenants, s.endpoints, tuple(self.models))

    def _flush_gaps(self) -> None:
        self._itl.record_many(np.frombuffer(self._gaps, dtype=np.float64))
        self._gaps = array("d")
