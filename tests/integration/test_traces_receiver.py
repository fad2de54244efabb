"""The stack's traces receiver: Jaeger v2, started with the stack, reads spans back."""

from __future__ import annotations

import json
import secrets
import time

import pytest
from op_support import answered, table_of

from reference_impl.tracing import Attr, SpanName
from reference_impl.tracing_config import TracingConfig
from reference_impl.tracing_otel import otlp_tracing
from scenarios.traces import RunTraces, collect_traces
from stack import StackConfig, StackStartError, start_stack
from stack.gateway_command import GatewayCommand
from stack.go_build import BUILD_TIMEOUT_S
from stack.jaeger import TraceSpan


pytestmark = pytest.mark.timeout(BUILD_TIMEOUT_S + 300)  # the first traces test builds Jaeger
TRACE_ID = "5a0f3c1e9b7d4e2fa1c3b5d7e9f10213"
CLIENT_SPAN = "1b2c3d4e5f607182"


@pytest.fixture(scope="module")
def traced_stack(tmp_path_factory):
    """A stack with its traces receiver and no gateway: spans come from the test."""
    config = StackConfig.from_env(
        tmp_path_factory.mktemp("traced"), traces=True, start_gateway=False
    )
    with start_stack(config) as stack:
        yield stack


def spans_within(stack, trace_id: str, *, count: int, timeout_s: float = 15.0) -> list[TraceSpan]:
    """The trace's spans once ``count`` have arrived (exporters and Jaeger batch them)."""
    deadline = time.monotonic() + timeout_s
    while True:
        spans = stack.traces.trace(trace_id)
        if len(spans) >= count or time.monotonic() > deadline:
            return spans
        time.sleep(0.2)


async def test_spans_sent_over_otlp_are_read_back_from_jaeger(traced_stack):
    assert traced_stack.services["jaeger"].version == "v1.75.0"
    assert traced_stack.endpoints.otlp is not None
    tracing = otlp_tracing(TracingConfig(enabled=True, endpoint=traced_stack.endpoints.otlp))
    headers = {"traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN}-01"}
    with tracing.request(headers, method="POST", route="/v1/chat/completions") as request:
        with tracing.span(SpanName.ATTEMPT) as attempt:
            attempt.set(Attr.MODEL, "gpt-4o")
            attempt.set(Attr.ATTEMPT, 1)
            attempt.set(Attr.STATUS, 429)
        with tracing.span(SpanName.FALLBACK) as fallback:
            fallback.set(Attr.FALLBACK_FROM, "gpt-4o")
            fallback.set(Attr.FALLBACK_TO, "gpt-4o-mini")
        request.set(Attr.STATUS, 200)
    await tracing.close()
    spans = {span.name: span for span in spans_within(traced_stack, TRACE_ID, count=3)}
    assert set(spans) == {"POST /v1/chat/completions", SpanName.ATTEMPT, SpanName.FALLBACK}
    root = spans["POST /v1/chat/completions"]
    assert root.parent_id == CLIENT_SPAN
    assert root.kind == "server"
    assert root.service == "meltproof-gateway"
    assert root.attributes[Attr.STATUS] == 200
    attempt_span = spans[SpanName.ATTEMPT]
    assert attempt_span.parent_id == root.span_id
    assert attempt_span.attributes == {Attr.MODEL: "gpt-4o", Attr.ATTEMPT: 1, Attr.STATUS: 429}
    assert attempt_span.error
    assert spans[SpanName.FALLBACK].attributes[Attr.FALLBACK_TO] == "gpt-4o-mini"
    assert root.start_ns <= attempt_span.start_ns <= attempt_span.end_ns <= root.end_ns


def test_an_unknown_trace_has_no_spans(traced_stack):
    assert traced_stack.traces.trace("0" * 31 + "1") == []


def test_jaeger_stops_with_a_stack_whose_start_fails(tmp_path):
    dies = GatewayCommand(
        name="dies",
        argv=("python3", "-c", "import sys; sys.exit(3)", "{port}", "{provider_url}"),
        start_timeout_s=10,
    )
    config = StackConfig.from_env(tmp_path / "run", traces=True, gateway_command=dies)
    with pytest.raises(StackStartError) as info:
        start_stack(config)
    assert info.value.service == "gateway"
    log = (tmp_path / "run" / "logs" / "jaeger.log").read_text()
    assert "Everything is ready" in log
    assert "Shutdown complete" in log


async def test_the_slowest_traced_requests_spans_are_collected(traced_stack):
    """Three traced requests and an untraced one: the two slowest traced are looked up; the
    one whose spans never came is kept empty once the wait is over."""
    sent = secrets.token_hex(16)
    never_sent = secrets.token_hex(16)
    tracing = otlp_tracing(TracingConfig(enabled=True, endpoint=traced_stack.endpoints.otlp))
    headers = {"traceparent": f"00-{sent}-{CLIENT_SPAN}-01"}
    with (
        tracing.request(headers, method="POST", route="/v1/chat/completions"),
        tracing.span(SpanName.LIMITER),
    ):
        pass
    await tracing.close()
    rows = [
        answered(0.0, 2.0),  # the slowest, but sent without a trace
        answered(0.1, 1.5, **_halves(never_sent)),
        answered(0.2, 1.0, **_halves(sent)),
        answered(0.3, 0.5, **_halves(secrets.token_hex(16))),
    ]
    traces = collect_traces(
        table_of(rows), traced_stack.traces, receiver="jaeger", count=2, wait_s=2.0
    )
    assert traces.receiver == "jaeger"
    assert [(r.row, r.trace_id) for r in traces.requests] == [(1, never_sent), (2, sent)]
    assert traces.requests[0].spans == ()
    names = sorted(span.name for span in traces.requests[1].spans)
    assert names == ["POST /v1/chat/completions", SpanName.LIMITER]
    assert RunTraces.from_dict(json.loads(json.dumps(traces.to_dict()))) == traces


def _halves(trace_id: str) -> dict[str, int]:
    return {"trace_hi": int(trace_id[:16], 16), "trace_lo": int(trace_id[16:], 16)}
