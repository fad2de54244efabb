"""The spans of a run's slowest requests: read back from the stack's traces receiver after
the load, and stored with the run so that its report can be built again later.

A traced run sends every request with a sampled W3C ``traceparent`` and keeps its trace id
with its row (``benchmarks.trace_context``). After the load, the ``SLOWEST`` requests by
latency (from the intended send: what a user waited) that carry a trace id are looked up in
the receiver. The gateway exports spans in batches, so each trace is asked for again until
its request span (kind ``server``) has arrived or ``wait_s`` has passed; what arrived by
then is stored. Stored under ``scenario_run.traces`` in ``run.json``:
``{"receiver": ..., "requests": [{"row", "trace_id", "spans": [TraceSpan.to_dict()]}],
"problem": ...}``, where ``problem`` says why the receiver could not be read (else null).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.op import OpTable, trace_id_of
from stack.jaeger import JaegerQuery, TraceSpan


SLOWEST = 10
WAIT_S = 10.0
"""How long the last spans may take to arrive (the gateway sends every second)."""
POLL_S = 0.5


@dataclass(frozen=True)
class RequestTrace:
    """One request of the run (its row) and the spans its trace holds."""

    row: int
    trace_id: str
    spans: tuple[TraceSpan, ...]

    def to_dict(self) -> dict[str, Any]:
        """As stored."""
        return {
            "row": self.row,
            "trace_id": self.trace_id,
            "spans": [span.to_dict() for span in self.spans],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RequestTrace:
        """From ``to_dict``'s output."""
        return cls(
            row=int(data["row"]),
            trace_id=str(data["trace_id"]),
            spans=tuple(TraceSpan.from_dict(span) for span in data.get("spans") or ()),
        )


@dataclass(frozen=True)
class RunTraces:
    """What a traced run kept: where the spans came from, and the slowest requests'."""

    receiver: str
    requests: tuple[RequestTrace, ...]
    problem: str | None = None
    """Why the receiver could not be read, when it could not."""

    def to_dict(self) -> dict[str, Any]:
        """As stored."""
        return {
            "receiver": self.receiver,
            "requests": [r.to_dict() for r in self.requests],
            "problem": self.problem,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunTraces:
        """From ``to_dict``'s output."""
        return cls(
            receiver=str(data.get("receiver", "")),
            requests=tuple(RequestTrace.from_dict(r) for r in data.get("requests") or ()),
            problem=data.get("problem"),
        )


def slowest_traced(table: OpTable, count: int = SLOWEST) -> list[tuple[int, str]]:
    """(row, trace id) of the ``count`` slowest finished requests sent with a trace."""
    ops = table.ops
    latency = table.latency_s
    traced = (ops["trace_hi"] != 0) | (ops["trace_lo"] != 0)
    candidates = np.flatnonzero(traced & np.isfinite(latency))
    slowest = candidates[np.argsort(-latency[candidates], kind="stable")][:count]
    picked = []
    for index in slowest.tolist():
        trace_id = trace_id_of(int(ops["trace_hi"][index]), int(ops["trace_lo"][index]))
        if trace_id is not None:
            picked.append((int(ops["row"][index]), trace_id))
    return picked


def collect_traces(
    table: OpTable,
    query: JaegerQuery,
    *,
    receiver: str,
    count: int = SLOWEST,
    wait_s: float = WAIT_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RunTraces:
    """The spans of the slowest traced requests (see the module docstring)."""
    wanted = slowest_traced(table, count)
    found: dict[str, tuple[TraceSpan, ...]] = {}
    deadline = clock() + wait_s
    while True:
        for _, trace_id in wanted:
            if trace_id in found and _whole(found[trace_id]):
                continue
            found[trace_id] = tuple(query.trace(trace_id))
        if all(_whole(found[trace_id]) for _, trace_id in wanted) or clock() >= deadline:
            break
        sleep(POLL_S)
    requests = tuple(RequestTrace(row, trace_id, found[trace_id]) for row, trace_id in wanted)
    return RunTraces(receiver, requests)


def _whole(spans: tuple[TraceSpan, ...]) -> bool:
    """Whether the request span has arrived (it ends, so it is sent, after the steps it
    waited for)."""
    return any(span.kind == "server" for span in spans)
