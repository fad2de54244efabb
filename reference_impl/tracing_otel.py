"""The OpenTelemetry SDK behind ``tracing.Tracing``, imported only when tracing is on.

One ``TracerProvider`` per gateway worker (never the global one): a parent-based sampler
(a sampled ``traceparent`` is honoured, a request without one is sampled at the configured
ratio), and a batch processor whose thread sends spans over OTLP/HTTP (protobuf), so the
event loop never waits for the receiver. A receiver that is down or slow costs dropped
spans (past ``max_queued_spans``), never a request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from contextvars import Token
from importlib import metadata
from types import TracebackType
from typing import Self

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .tracing import NO_SPAN, Attr, AttrKey, AttrValue, NoSpan, StepName, Tracing
from .tracing_config import TracingConfig


INSTRUMENTATION = "reference_impl"
_FAILED_STEP_STATUS = 400
"""A child's HTTP status from here on (an upstream attempt's 429 or 5xx) marks it failed."""
_FAILED_REQUEST_STATUS = 500
"""The request span is failed by the gateway's own 5xx only (OpenTelemetry's HTTP server
convention: a 4xx is the client's doing)."""


class _Scope:
    """A span timing a ``with`` block: its attributes, and its failure by an HTTP status of
    ``failed_from`` or more, or by an exception."""

    __slots__ = ("_span",)
    failed_from = _FAILED_STEP_STATUS

    def __init__(self) -> None:
        self._span: trace.Span | None = None

    def set(self, attr: AttrKey, value: AttrValue) -> None:
        """Set one attribute; a failing HTTP status marks the span failed."""
        span = self._span
        if span is None:
            return
        span.set_attribute(attr, value)
        if attr == Attr.STATUS and isinstance(value, int) and value >= self.failed_from:
            span.set_status(Status(StatusCode.ERROR, f"HTTP {value}"))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        span = self._span
        if span is None:
            return
        self._leave()
        if exc_type is not None:
            _failed_by(span, exc_type)
        span.end()

    def _leave(self) -> None:
        """What ``__exit__`` undoes before the span ends."""


class _Step(_Scope):
    """A leaf child of the current span (see ``tracing``); ``NO_SPAN`` under a span that
    does not record. An HTTP status of 400 or more (an attempt's 429 or 5xx) fails it."""

    __slots__ = ("_name", "_tracer")

    def __init__(self, tracer: trace.Tracer, name: StepName) -> None:
        super().__init__()
        self._tracer = tracer
        self._name = name

    def __enter__(self) -> _Step | NoSpan:
        if not trace.get_current_span().is_recording():
            return NO_SPAN
        self._span = self._tracer.start_span(self._name)
        return self


class _Request(_Scope):
    """The span of one HTTP request, current while its handler runs; only the gateway's own
    5xx fails it."""

    __slots__ = ("_attributes", "_headers", "_name", "_owner", "_token")
    failed_from = _FAILED_REQUEST_STATUS

    def __init__(
        self, owner: OtelTracing, headers: Mapping[str, str], *, method: str, route: str
    ) -> None:
        super().__init__()
        self._owner = owner
        self._headers = headers
        self._name = f"{method} {route}"
        self._attributes: dict[str, AttrValue] = {Attr.METHOD: method, Attr.ROUTE: route}
        self._token: Token[Context] | None = None

    def __enter__(self) -> Self:
        parent = self._owner.propagator.extract(self._headers)
        span = self._owner.tracer.start_span(
            self._name, context=parent, kind=SpanKind.SERVER, attributes=self._attributes
        )
        self._span = span
        self._token = otel_context.attach(trace.set_span_in_context(span, parent))
        return self

    def _leave(self) -> None:
        if self._token is not None:
            otel_context.detach(self._token)


def _failed_by(span: trace.Span, exc_type: type[BaseException]) -> None:
    """Mark ``span`` failed by an exception of ``exc_type``: its name only, since a message
    can quote the request (a validation error quotes its input)."""
    name = exc_type.__qualname__
    span.set_attribute(Attr.ERROR_TYPE, name)
    span.set_status(Status(StatusCode.ERROR, name))


class OtelTracing(Tracing):
    """Spans made by the OpenTelemetry SDK and handed to ``processor``."""

    on = True

    def __init__(self, provider: TracerProvider) -> None:
        self._provider = provider
        self.tracer = provider.get_tracer(INSTRUMENTATION)
        self.propagator = TraceContextTextMapPropagator()

    def span(self, name: StepName) -> _Step:
        """A leaf child of the current span, timing the ``with`` block."""
        return _Step(self.tracer, name)

    def request(self, headers: Mapping[str, str], *, method: str, route: str) -> _Request:
        """The span of one HTTP request, current for the ``with`` block."""
        return _Request(self, headers, method=method, route=route)

    def annotate(
        self,
        *,
        tenant: str,
        model: str,
        status: int,
        cache: str,
        fingerprint: Callable[[], str],
    ) -> None:
        """Describe the current request's span, if it records."""
        span = trace.get_current_span()
        if not span.is_recording():
            return
        span.set_attributes(
            {
                Attr.TENANT: tenant,
                Attr.MODEL: model,
                Attr.STATUS: status,
                Attr.CACHE: cache or "none",
                Attr.PROMPT_FINGERPRINT: fingerprint(),
            }
        )

    async def close(self) -> None:
        """Send what is queued (within the export timeout) and stop the export thread."""
        await asyncio.to_thread(self._provider.shutdown)


def provider_for(config: TracingConfig, processor: SpanProcessor) -> TracerProvider:
    """A provider with the config's sampler and resource, sending spans to ``processor``."""
    resource = Resource.create(
        {"service.name": config.service_name, "service.version": _installed_version()}
    )
    provider = TracerProvider(
        resource=resource,
        sampler=ParentBased(root=TraceIdRatioBased(config.sample_ratio)),
        shutdown_on_exit=False,
    )
    provider.add_span_processor(processor)
    return provider


def _installed_version() -> str:
    try:
        return metadata.version("meltproof")
    except metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown"


def otlp_tracing(config: TracingConfig) -> OtelTracing:
    """Tracing that batches spans and sends them to the config's OTLP/HTTP endpoint."""
    exporter = OTLPSpanExporter(
        endpoint=str(config.endpoint) if config.endpoint is not None else None,
        timeout=config.export_timeout_s,
    )
    processor = BatchSpanProcessor(
        exporter,
        max_queue_size=config.max_queued_spans,
        schedule_delay_millis=config.export_delay_s * 1000,
        max_export_batch_size=min(512, config.max_queued_spans),
        export_timeout_millis=config.export_timeout_s * 1000,
    )
    return OtelTracing(provider_for(config, processor))
