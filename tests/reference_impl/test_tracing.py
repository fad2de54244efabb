"""Gateway tracing with the OpenTelemetry SDK's in-memory exporter: parents, sampling,
attributes, and no request content in any span."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pydantic
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from reference_impl.tracing import NO_SPAN, NO_TRACING, Attr, SpanName, start_tracing
from reference_impl.tracing_config import TracingConfig
from reference_impl.tracing_cost import main
from reference_impl.tracing_otel import OtelTracing, otlp_tracing, provider_for


TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
SAMPLED = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
NOT_SAMPLED = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-00"}
CANARY = "canary-prompt-in-no-span-7c41"


def traced(exporter: InMemorySpanExporter, *, sample_ratio: float = 1.0) -> OtelTracing:
    config = TracingConfig(enabled=True, sample_ratio=sample_ratio)
    return OtelTracing(provider_for(config, SimpleSpanProcessor(exporter)))


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name: span for span in exporter.get_finished_spans()}


def everything_exported(exporter: InMemorySpanExporter) -> str:
    """Every name, attribute, event and status text of the exported spans, as one text."""
    return json.dumps([json.loads(span.to_json()) for span in exporter.get_finished_spans()])


def test_tracing_is_off_by_default_and_costs_no_span():
    tracing = start_tracing(TracingConfig())
    assert tracing is NO_TRACING
    assert not tracing.on
    assert tracing.span(SpanName.CACHE) is NO_SPAN
    assert tracing.request(SAMPLED, method="POST", route="/v1/chat/completions") is NO_SPAN
    with tracing.span(SpanName.ATTEMPT) as span:
        span.set(Attr.MODEL, "gpt-4o")


def test_the_gateway_does_not_load_the_tracing_sdk_while_tracing_is_off():
    """(redis-py imports OpenTelemetry's metrics API when it is installed; the tracer,
    its exporter and our module for them stay unloaded.)"""
    code = (
        "import sys, reference_impl.app, reference_impl.tracing_middleware;"
        "print([m for m in sys.modules if m.startswith(("
        "'opentelemetry.sdk.trace', 'opentelemetry.exporter', 'reference_impl.tracing_otel'))])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_a_request_span_continues_the_clients_sampled_trace(exporter):
    tracing = traced(exporter)
    with tracing.request(SAMPLED, method="POST", route="/v1/chat/completions") as request:
        request.set(Attr.STATUS, 200)
    (span,) = exporter.get_finished_spans()
    assert span.name == "POST /v1/chat/completions"
    assert span.kind is SpanKind.SERVER
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == PARENT_ID
    assert span.attributes == {
        Attr.METHOD: "POST",
        Attr.ROUTE: "/v1/chat/completions",
        Attr.STATUS: 200,
    }


def test_a_trace_the_client_did_not_sample_is_not_recorded(exporter):
    tracing = traced(exporter, sample_ratio=1.0)
    with (
        tracing.request(NOT_SAMPLED, method="POST", route="/v1/embeddings"),
        tracing.span(SpanName.CACHE) as step,
    ):
        assert step is NO_SPAN
    assert exporter.get_finished_spans() == ()


@pytest.mark.parametrize(("ratio", "recorded"), [(0.0, 0), (1.0, 1)])
def test_a_request_without_traceparent_is_sampled_at_the_ratio(exporter, ratio, recorded):
    tracing = traced(exporter, sample_ratio=ratio)
    with tracing.request({}, method="POST", route="/v1/chat/completions"):
        pass
    assert len(exporter.get_finished_spans()) == recorded


def test_steps_are_children_of_the_request_span(exporter):
    tracing = traced(exporter)
    with tracing.request(SAMPLED, method="POST", route="/v1/chat/completions"):
        with tracing.span(SpanName.CACHE) as cache:
            cache.set(Attr.CACHE, "miss")
        with tracing.span(SpanName.ATTEMPT) as attempt:
            attempt.set(Attr.MODEL, "gpt-4o")
            attempt.set(Attr.ATTEMPT, 1)
            attempt.set(Attr.STATUS, 200)
            attempt.set(Attr.OUTCOME, "ok")
    spans = by_name(exporter)
    root = spans["POST /v1/chat/completions"]
    for name in (SpanName.CACHE, SpanName.ATTEMPT):
        assert spans[name].parent is not None
        assert spans[name].parent.span_id == root.context.span_id
        assert spans[name].context.trace_id == root.context.trace_id
    assert spans[SpanName.CACHE].attributes == {Attr.CACHE: "miss"}
    assert spans[SpanName.ATTEMPT].attributes == {
        Attr.MODEL: "gpt-4o",
        Attr.ATTEMPT: 1,
        Attr.STATUS: 200,
        Attr.OUTCOME: "ok",
    }
    assert spans[SpanName.ATTEMPT].status.status_code is StatusCode.UNSET


async def test_a_task_started_inside_a_step_hangs_its_spans_on_the_request(exporter):
    """A coalescing flight starts its task while the cache lookup is timed: the flight's
    upstream attempt belongs to the request, not to the (already ended) lookup."""
    tracing = traced(exporter)

    async def flight() -> None:
        with tracing.span(SpanName.ATTEMPT):
            await asyncio.sleep(0)

    with tracing.request(SAMPLED, method="POST", route="/v1/chat/completions"):
        with tracing.span(SpanName.CACHE):
            task = asyncio.create_task(flight())
        await task
    spans = by_name(exporter)
    root = spans["POST /v1/chat/completions"]
    assert spans[SpanName.ATTEMPT].parent.span_id == root.context.span_id


def test_no_step_is_recorded_outside_a_request(exporter):
    tracing = traced(exporter)
    with tracing.span(SpanName.ATTEMPT) as step:
        assert step is NO_SPAN
    assert exporter.get_finished_spans() == ()


def test_a_failed_attempt_status_marks_its_step_failed(exporter):
    tracing = traced(exporter)
    with tracing.request(SAMPLED, method="POST", route="/v1/chat/completions") as request:
        with tracing.span(SpanName.ATTEMPT) as attempt:
            attempt.set(Attr.STATUS, 429)
        request.set(Attr.STATUS, 429)
    spans = by_name(exporter)
    assert spans[SpanName.ATTEMPT].status.status_code is StatusCode.ERROR
    assert spans["POST /v1/chat/completions"].status.status_code is StatusCode.UNSET


def test_a_5xx_marks_the_request_failed(exporter):
    tracing = traced(exporter)
    with tracing.request(SAMPLED, method="POST", route="/v1/chat/completions") as request:
        request.set(Attr.STATUS, 503)
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR


def test_an_exception_is_recorded_by_its_type_never_its_message(exporter):
    tracing = traced(exporter)
    with (
        pytest.raises(ValueError, match=CANARY),
        tracing.request(SAMPLED, method="POST", route="/v1/chat/completions"),
        tracing.span(SpanName.BUDGET),
    ):
        raise ValueError(f"bad input: {CANARY}")
    spans = by_name(exporter)
    for span in spans.values():
        assert span.attributes[Attr.ERROR_TYPE] == "ValueError"
        assert span.status.status_code is StatusCode.ERROR
        assert span.events == ()
    assert CANARY not in everything_exported(exporter)


def test_annotate_describes_the_request_with_a_fingerprint_never_the_prompt(exporter):
    tracing = traced(exporter)
    with tracing.request(SAMPLED, method="POST", route="/v1/chat/completions"):
        tracing.annotate(
            tenant="acme", model="gpt-4o", status=200, cache="hit", fingerprint=lambda: "0f1e2d"
        )
    (span,) = exporter.get_finished_spans()
    assert span.attributes[Attr.TENANT] == "acme"
    assert span.attributes[Attr.MODEL] == "gpt-4o"
    assert span.attributes[Attr.CACHE] == "hit"
    assert span.attributes[Attr.PROMPT_FINGERPRINT] == "0f1e2d"


def test_annotate_computes_no_fingerprint_for_a_request_not_recorded(exporter):
    tracing = traced(exporter)

    def fingerprint() -> str:
        raise AssertionError("computed for a span that does not record")

    with tracing.request(NOT_SAMPLED, method="POST", route="/v1/chat/completions"):
        tracing.annotate(tenant="a", model="m", status=200, cache="", fingerprint=fingerprint)
    NO_TRACING.annotate(tenant="a", model="m", status=200, cache="", fingerprint=fingerprint)


def test_the_config_takes_a_base_url_or_the_traces_url():
    base = TracingConfig(enabled=True, endpoint="http://127.0.0.1:4318")
    assert str(base.endpoint) == "http://127.0.0.1:4318/v1/traces"
    full = TracingConfig(enabled=True, endpoint="http://127.0.0.1:4318/custom/traces")
    assert str(full.endpoint) == "http://127.0.0.1:4318/custom/traces"


@pytest.mark.parametrize(
    "settings",
    [{"sample_ratio": 1.5}, {"endpoint": "not a url"}, {"export_delay_s": 0}, {"colour": "red"}],
)
def test_a_bad_tracing_setting_is_refused(settings):
    with pytest.raises(pydantic.ValidationError):
        TracingConfig.model_validate({"enabled": True, **settings})


async def test_otlp_tracing_is_on_and_closes_without_a_receiver():
    """Nothing listens on the endpoint: closing with no span queued sends nothing."""
    tracing = otlp_tracing(
        TracingConfig(enabled=True, endpoint="http://127.0.0.1:9", export_timeout_s=1)
    )
    assert tracing.on
    await tracing.close()


def test_the_cost_measurement_prints_each_case(capsys):
    main(["--iterations", "20", "--repeats", "1"])
    cases = [line.split("  ")[0] for line in capsys.readouterr().out.splitlines()]
    assert cases == [
        "off",
        "off, behind `if .on`",
        "on, not sampled",
        "on, sampled",
        "request span, sampled",
        "OTLP encoding (export)",
    ]
