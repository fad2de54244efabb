"""The report's ``slowest_requests``: where the slowest requests of a traced run spent their
time, from the spans the gateway sent (``scenarios.traces``).

Each request's latency (from its intended send, as the client measured it) is broken into
parts by its trace: the gateway's steps (a span each: queueing at the concurrency cap,
retries, the provider's answers, the coalescing wait, the cache lookup, budget admission),
the rest of the request span (the gateway's own work), and what came before the gateway saw
the request (the generator's lag, the network, the accept queue). The attempt that got the
answer is the provider's time; failed attempts (an error status, a timeout, a cut stream) and
the waits before the next attempt are retries, on whichever model of the chain they were.
Steps that run at once (a copilot's parallel calls) can add up to more than their request. A
null section means the run was not traced.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from reference_impl.tracing import Attr, SpanName
from scenarios.stored_run import StoredRun
from scenarios.traces import RequestTrace
from stack.jaeger import TraceSpan


QUEUEING = "queueing at the cap"
RETRIES = "retries"
PROVIDER = "provider"
COALESCING = "coalescing wait"
CACHE = "cache lookup"
BUDGET = "budget admission"
GATEWAY = "gateway, other"
BEFORE = "before the gateway"
PARTS = (QUEUEING, RETRIES, PROVIDER, COALESCING, CACHE, BUDGET, GATEWAY, BEFORE)
_STEP_PARTS: dict[str, str] = {
    SpanName.LIMITER: QUEUEING,
    SpanName.BACKOFF: RETRIES,
    SpanName.COALESCE: COALESCING,
    SpanName.CACHE: CACHE,
    SpanName.BUDGET: BUDGET,
}


def slowest_section(run: StoredRun) -> dict[str, Any] | None:
    """The slowest requests with their parts and spans; None for a run not traced."""
    traces = run.traces
    if traces is None:
        return None
    rows = run.table.ops["row"]
    requests = []
    for trace in traces.requests:
        index = int(np.searchsorted(rows, trace.row))
        requests.append(_request(run, index, trace))
    return {"receiver": traces.receiver, "requests": requests, "problem": traces.problem}


def _request(run: StoredRun, index: int, trace: RequestTrace) -> dict[str, Any]:
    op = run.table.op(index)
    latency_ms = op.latency_s * 1e3
    root = next((span for span in trace.spans if span.kind == "server"), None)
    steps = sorted((s for s in trace.spans if s is not root), key=lambda s: (s.start_ns, s.end_ns))
    parts = dict.fromkeys(PARTS, 0.0)
    for span in steps:
        part = part_of(span)
        if part is not None:
            parts[part] += _ms(span)
    gateway_ms = None if root is None else _ms(root)
    if gateway_ms is not None:
        stepped = sum(parts[p] for p in PARTS if p not in {GATEWAY, BEFORE})
        parts[GATEWAY] = max(0.0, gateway_ms - stepped)
        parts[BEFORE] = max(0.0, latency_ms - gateway_ms)
    origin = root.start_ns if root is not None else min((s.start_ns for s in steps), default=0)
    return {
        "row": op.row,
        "trace_id": trace.trace_id,
        "tenant": op.tenant,
        "endpoint": op.endpoint,
        "status": op.status,
        "latency_ms": latency_ms,
        "gateway_ms": gateway_ms,
        "parts": []
        if gateway_ms is None
        else [
            {"part": part, "ms": ms, "share": ms / latency_ms if latency_ms > 0 else None}
            for part, ms in parts.items()
        ],
        "spans": [
            {
                "name": span.name,
                "start_ms": (span.start_ns - origin) / 1e6,
                "ms": _ms(span),
                "share": _ms(span) / latency_ms if latency_ms > 0 else None,
                "detail": detail_of(span.attributes),
                "error": span.error,
            }
            for span in ([root] if root is not None else []) + steps
        ],
    }


def part_of(span: TraceSpan) -> str | None:
    """The part of a request a step's time belongs to; None for spans that are no step."""
    if span.name == SpanName.ATTEMPT:
        failed = span.error or span.attributes.get(Attr.OUTCOME, "ok") != "ok"
        return RETRIES if failed else PROVIDER
    return _STEP_PARTS.get(span.name)


def detail_of(attributes: Mapping[str, Any]) -> str:
    """What a span says about its step, in a few words: model, attempt, status, outcome."""
    words = []
    if Attr.TENANT in attributes:
        words.append(f"tenant {attributes[Attr.TENANT]}")
    if Attr.MODEL in attributes:
        words.append(str(attributes[Attr.MODEL]))
    if Attr.ATTEMPT in attributes:
        words.append(f"attempt {attributes[Attr.ATTEMPT]}")
    if Attr.STATUS in attributes:
        words.append(f"HTTP {attributes[Attr.STATUS]}")
    outcomes = (Attr.CACHE, Attr.OUTCOME, Attr.DEGRADED_REASON, Attr.ERROR_TYPE)
    words.extend(str(attributes[key]) for key in outcomes if key in attributes)
    if Attr.FALLBACK_FROM in attributes:
        words.append(f"{attributes[Attr.FALLBACK_FROM]} -> {attributes.get(Attr.FALLBACK_TO)}")
    return " · ".join(words)


def _ms(span: TraceSpan) -> float:
    return (span.end_ns - span.start_ns) / 1e6
