"""A traced run's report: the slowest requests, their latency in parts, and their spans."""

from __future__ import annotations

import dataclasses

import pytest
from op_support import answered, table_of
from run_support import stored_run

from benchmarks.history import write_history
from benchmarks.plan import LoadResult
from reference_impl.tracing import Attr, SpanName
from scenarios.report import build_report, render_html, render_markdown
from scenarios.run_record import RUN_KEY
from scenarios.stored_run import StoredRun, read_run
from scenarios.traces import RequestTrace, RunTraces
from stack.jaeger import TraceSpan


TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
LOST = "00000000000000000000000000000abc"
ROOT = "r000000000000001"
MS = 1_000_000
START = 1_800_000_000 * 10**9


def span(name: str, start_ms: float, ms: float, **attributes: object) -> TraceSpan:
    return TraceSpan(
        trace_id=TRACE,
        span_id=f"{name[:8]:0<8}{int(start_ms):08d}",
        parent_id=ROOT,
        name=name,
        kind="internal",
        start_ns=START + int(start_ms * MS),
        end_ns=START + int((start_ms + ms) * MS),
        service="meltproof-gateway",
        attributes=attributes,
        error=attributes.get(Attr.STATUS, 200) != 200,
    )


REQUEST = TraceSpan(
    trace_id=TRACE,
    span_id=ROOT,
    parent_id="c000000000000001",
    name="POST /v1/chat/completions",
    kind="server",
    start_ns=START,
    end_ns=START + 800 * MS,
    service="meltproof-gateway",
    attributes={Attr.TENANT: "acme", Attr.STATUS: 200},
)
STEPS = (
    span(SpanName.LIMITER, 10, 300, **{Attr.OUTCOME: "acquired"}),
    span(SpanName.ATTEMPT, 310, 100, **{Attr.MODEL: "gpt-4o", Attr.ATTEMPT: 1, Attr.STATUS: 429}),
    span(SpanName.BACKOFF, 410, 50),
    span(
        SpanName.ATTEMPT,
        460,
        200,
        **{Attr.MODEL: "gpt-4o", Attr.ATTEMPT: 2, Attr.OUTCOME: "timeout"},
    ),
    span(
        SpanName.FALLBACK, 660, 0, **{Attr.FALLBACK_FROM: "gpt-4o", Attr.FALLBACK_TO: "gpt-4o-mini"}
    ),
    span(
        SpanName.ATTEMPT, 660, 100, **{Attr.MODEL: "gpt-4o-mini", Attr.ATTEMPT: 1, Attr.STATUS: 200}
    ),
)


def traced_run() -> StoredRun:
    """Three requests: the slowest traced, queued at its cap, then a 429 and a timeout on
    gpt-4o before gpt-4o-mini answered; the next traced but without spans; the fastest
    untraced."""
    table = table_of(
        [answered(1.0, 0.85), answered(2.0, 0.6, status=503), answered(3.0, 0.1)],
        tenants=("acme",),
    )
    traces = RunTraces(
        receiver="jaeger v1.75.0",
        requests=(
            RequestTrace(0, TRACE, (REQUEST, *reversed(STEPS))),
            RequestTrace(1, LOST, ()),
        ),
    )
    return dataclasses.replace(stored_run(table), traces=traces)


def test_a_request_is_broken_into_its_parts_by_its_spans():
    section = build_report(traced_run(), []).slowest_requests
    assert section is not None
    assert section.receiver == "jaeger v1.75.0"
    slowest, lost = section.requests
    assert (slowest.row, slowest.trace_id, slowest.tenant) == (0, TRACE, "acme")
    assert slowest.latency_ms == pytest.approx(850)
    assert slowest.gateway_ms == pytest.approx(800)
    parts = {part.part: part.ms for part in slowest.parts}
    assert parts == pytest.approx(
        {
            "queueing at the cap": 300,
            "retries": 350,
            "provider": 100,
            "coalescing wait": 0,
            "cache lookup": 0,
            "budget admission": 0,
            "gateway, other": 50,
            "before the gateway": 50,
        }
    )
    assert sum(parts.values()) == pytest.approx(slowest.latency_ms)
    names = [s.name for s in slowest.spans]
    assert names[0] == "POST /v1/chat/completions"
    assert names[1:] == [s.name for s in STEPS]  # in the order they started
    fallback = slowest.spans[5]
    assert fallback.detail == "gpt-4o -> gpt-4o-mini"
    assert fallback.start_ms == pytest.approx(660)
    assert slowest.spans[2].error
    assert (lost.gateway_ms, lost.parts, lost.spans) == (None, (), ())


def test_the_markdown_lists_the_slowest_requests_and_their_spans():
    markdown = render_markdown(build_report(traced_run(), []))
    assert "## Slowest requests: where the time went (spans from jaeger v1.75.0)" in markdown
    assert "| 300 ms (35%) |" in markdown  # queueing at the cap, of 850 ms
    assert "Coalescing wait" not in markdown  # no request waited on a flight
    assert "no spans received" in markdown
    assert "## Spans of the slowest requests" in markdown
    assert "FAILED · gpt-4o · attempt 1 · HTTP 429" in markdown
    assert "| gpt-4o · attempt 2 · timeout |" in markdown


def test_the_html_draws_each_request_in_its_parts():
    page = render_html(build_report(traced_run(), []))
    assert "Where the slowest requests spent their time" in page
    assert "<title>queueing at the cap: 300 ms</title>" in page
    assert "Spans of the slowest requests" in page


def test_a_run_that_was_not_traced_has_no_such_section():
    report = build_report(stored_run(table_of([answered(1.0, 0.1)])), [])
    assert report.slowest_requests is None
    assert "Slowest requests" not in render_markdown(report)
    assert "Slowest requests" not in render_html(report)


def test_the_traces_are_stored_with_the_run(tmp_path):
    run = traced_run()
    plan = run.history.plan
    result = LoadResult(plan, run.table, run.history.itl, 0.0)
    assert run.traces is not None
    write_history(result, tmp_path / "run", extra={RUN_KEY: {"traces": run.traces.to_dict()}})
    assert read_run(tmp_path / "run").traces == run.traces


def test_a_receiver_that_could_not_be_read_is_said_so():
    problem = "the receiver could not be read: GET http://127.0.0.1:9/api/v3/traces/x: refused"
    run = dataclasses.replace(traced_run(), traces=RunTraces("jaeger v1.75.0", (), problem))
    markdown = render_markdown(build_report(run, []))
    assert f"_{problem}_" in markdown
