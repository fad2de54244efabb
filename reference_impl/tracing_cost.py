"""What a span costs the request path: ``python -m reference_impl.tracing_cost``.

Times, on this thread, one step as the request path writes it (a span with three
attributes) with tracing off, on for a request that is not sampled, and on for a sampled
one; then a request span (the ``traceparent`` read, the span made current and ended); then
the OTLP encoding that the export thread does per span. Each figure is the least of
``--repeats`` runs of ``--iterations`` spans, in microseconds (whatever else runs on the
machine only adds to a run).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from .tracing import NO_TRACING, Attr, SpanName, Tracing
from .tracing_config import TracingConfig
from .tracing_otel import OtelTracing, provider_for


SAMPLED = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
NOT_SAMPLED = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}


class _Dropped(SpanExporter):
    """Takes batches and keeps nothing: the export thread's own cost is measured apart."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:  # noqa: ARG002
        return SpanExportResult.SUCCESS


def _step(tracing: Tracing) -> None:
    with tracing.span(SpanName.ATTEMPT) as span:
        span.set(Attr.MODEL, "gpt-4o-mini")
        span.set(Attr.ATTEMPT, 1)
        span.set(Attr.STATUS, 200)


def _guarded(tracing: Tracing) -> None:
    if tracing.on:
        _step(tracing)


def _per_call_us(run: Callable[[], None], iterations: int, repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter_ns()
        for _ in range(iterations):
            run()
        timings.append((time.perf_counter_ns() - started) / iterations / 1000)
    return min(timings)


def measure(iterations: int, repeats: int) -> dict[str, float]:
    """Microseconds per span, by case."""
    provider = provider_for(
        TracingConfig(enabled=True), BatchSpanProcessor(_Dropped(), max_queue_size=1 << 16)
    )
    tracing = OtelTracing(provider)
    figures = {
        "off": _per_call_us(lambda: _step(NO_TRACING), iterations, repeats),
        "off, behind `if .on`": _per_call_us(lambda: _guarded(NO_TRACING), iterations, repeats),
    }
    for case, headers in (("on, not sampled", NOT_SAMPLED), ("on, sampled", SAMPLED)):
        with tracing.request(headers, method="POST", route="/v1/chat/completions"):
            figures[case] = _per_call_us(lambda: _step(tracing), iterations, repeats)

    def request() -> None:
        with tracing.request(SAMPLED, method="POST", route="/v1/chat/completions") as span:
            span.set(Attr.STATUS, 200)

    figures["request span, sampled"] = _per_call_us(request, iterations, repeats)
    provider.shutdown()
    return figures


def encoding_us(spans: int = 512, repeats: int = 5) -> float:
    """Microseconds of OTLP protobuf encoding per span, as the export thread pays it."""
    kept: list[ReadableSpan] = []

    class _Kept(SpanExporter):
        def export(self, batch: Sequence[ReadableSpan]) -> SpanExportResult:
            kept.extend(batch)
            return SpanExportResult.SUCCESS

    provider = provider_for(
        TracingConfig(enabled=True), BatchSpanProcessor(_Kept(), max_queue_size=spans * 2)
    )
    tracing = OtelTracing(provider)
    with tracing.request(SAMPLED, method="POST", route="/v1/chat/completions"):
        for _ in range(spans):
            _step(tracing)
    provider.shutdown()  # sends what is queued
    return _per_call_us(lambda: encode_spans(kept).SerializePartialToString(), 1, repeats) / len(
        kept
    )


def main(argv: list[str] | None = None) -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(prog="python -m reference_impl.tracing_cost")
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    for case, us in measure(args.iterations, args.repeats).items():
        print(f"{case:<24} {us:8.2f} µs per span")  # noqa: T201 - a command's output
    print(f"{'OTLP encoding (export)':<24} {encoding_us():8.2f} µs per span")  # noqa: T201


if __name__ == "__main__":
    main()
