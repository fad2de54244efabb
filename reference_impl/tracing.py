"""Traces of the gateway's requests: the API the request path calls, and its no-op.

``start_tracing(config)`` gives ``NO_TRACING`` when tracing is off: every call is a no-op on
shared objects, and OpenTelemetry's tracing SDK is not even imported. When on, it gives the
SDK's tracer (``tracing_otel``), exporting over OTLP/HTTP in a background thread.

Spans of one request (names in ``SpanName``):

- the request span (kind SERVER, ``POST /v1/chat/completions``), opened by
  ``tracing_middleware`` around every ``/v1/`` request and made current; its parent is the
  client's W3C ``traceparent`` when there is one;
- its children, opened with ``with tracing.span(SpanName.X) as span:`` around one step:
  budget admission, the cache lookup, the coalescing wait, the limiter, each upstream
  attempt, the wait before a retry, a fallback, a degraded answer. They are leaves: never
  made current, so a task started inside one (a coalescing flight) hangs its own spans on
  the request span, and none attaches a context. A child is only made under a span that
  records: an unsampled request pays one context lookup per step.

Attributes come from a closed set (``Attr``; the type checker refuses any other key):
names, numbers and outcomes the gateway chose, and the tenant-salted prompt fingerprint
(``canonical.prompt_fingerprint``, as the access log carries). Never prompt text: no
attribute takes request content, and an exception ends its span with its type only, never
its message (messages can quote input).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Final, NewType, Protocol, Self

from .tracing_config import TracingConfig


StepName = NewType("StepName", str)
"""A child span's name: one of ``SpanName``'s (plain strings at run time)."""
AttrKey = NewType("AttrKey", str)
"""An attribute's key: one of ``Attr``'s (plain strings at run time)."""


class SpanName:
    """The children of a request span."""

    BUDGET: Final = StepName("budget.admit")
    """The tenant's token budget admits (warns, downgrades) or refuses the request."""
    CACHE: Final = StepName("cache.lookup")
    """The response cache is read; with coalescing, until the flight knows its role."""
    COALESCE: Final = StepName("coalesce.wait")
    """A follower waits for the answer of the flight it joined."""
    LIMITER: Final = StepName("limiter.acquire")
    """A concurrency slot is taken (or the request queues at the cap, or is refused)."""
    ATTEMPT: Final = StepName("upstream.attempt")
    """One call to the provider."""
    BACKOFF: Final = StepName("retry.backoff")
    """The wait before the next attempt."""
    FALLBACK: Final = StepName("fallback")
    """The request moves to the next model of the chain (an instant)."""
    DEGRADED: Final = StepName("degraded")
    """The provider could not answer; the gateway answers degraded (an instant)."""


class Attr:
    """Every attribute a gateway span may carry."""

    TENANT: Final = AttrKey("meltproof.tenant")
    ROUTE: Final = AttrKey("http.route")
    METHOD: Final = AttrKey("http.request.method")
    MODEL: Final = AttrKey("gen_ai.request.model")
    STATUS: Final = AttrKey("http.response.status_code")
    CACHE: Final = AttrKey("meltproof.cache")
    """``hit``, ``miss`` or ``coalesced`` (``x-cache``)."""
    OUTCOME: Final = AttrKey("meltproof.outcome")
    """A step's result in the gateway's words: an attempt's ``ok`` / ``http_429`` /
    ``timeout``, the limiter's ``acquired`` / ``local`` / ``rejected``, a budget level."""
    ATTEMPT: Final = AttrKey("meltproof.attempt")
    """The attempt's number on its model, from 1."""
    FALLBACK_FROM: Final = AttrKey("meltproof.fallback.from")
    FALLBACK_TO: Final = AttrKey("meltproof.fallback.to")
    DEGRADED_REASON: Final = AttrKey("meltproof.degraded.reason")
    PROMPT_FINGERPRINT: Final = AttrKey("meltproof.prompt.fingerprint")
    """The tenant-salted hash of the prompt (``Exchange.fingerprint``), never the prompt."""
    ERROR_TYPE: Final = AttrKey("error.type")
    """The class of the exception that ended the span (never its message)."""


AttrValue = str | int | float | bool


class Span(Protocol):
    """A span being recorded: attributes are set on it while its step runs."""

    def set(self, attr: AttrKey, value: AttrValue) -> None:
        """Set one attribute."""


class SpanScope(Protocol):
    """``with scope as span:`` times the block; an exception marks the span failed."""

    def __enter__(self) -> Span: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class NoSpan:
    """The span of what is not traced: every call does nothing."""

    __slots__ = ()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None

    def set(self, attr: AttrKey, value: AttrValue) -> None:
        """Nothing to set."""


NO_SPAN = NoSpan()
"""Shared; also usable as ``with (tracing.span(NAME) if condition else NO_SPAN):``."""


class Tracing:
    """Tracing switched off: what ``start_tracing`` returns when ``enabled`` is false."""

    on = False
    """Whether spans are made; check it before computing something only a span needs."""

    def span(self, name: StepName) -> SpanScope:  # noqa: ARG002 - the interface
        """A child of the current request's span, timing the ``with`` block."""
        return NO_SPAN

    def request(
        self,
        headers: Mapping[str, str],  # noqa: ARG002 - the interface
        *,
        method: str,  # noqa: ARG002
        route: str,  # noqa: ARG002
    ) -> SpanScope:
        """The span of one HTTP request, current for the ``with`` block; its parent comes
        from the W3C ``traceparent`` in ``headers``."""
        return NO_SPAN

    def annotate(
        self,
        *,
        tenant: str,
        model: str,
        status: int,
        cache: str,
        fingerprint: Callable[[], str],
    ) -> None:
        """Describe the current request's span once its answer is known; ``fingerprint`` is
        called only when the span records."""

    async def close(self) -> None:
        """Send the spans still queued and stop exporting."""


NO_TRACING = Tracing()


def start_tracing(config: TracingConfig) -> Tracing:
    """``NO_TRACING`` when ``config`` is off; else the SDK's tracer, exporting over OTLP."""
    if not config.enabled:
        return NO_TRACING
    from .tracing_otel import otlp_tracing  # noqa: PLC0415 - the SDK only when tracing is on

    return otlp_tracing(config)
