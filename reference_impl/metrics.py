"""The gateway's Prometheus metrics, served on ``/metrics``: one method per event.

Every ``GatewayMetrics`` has its own ``CollectorRegistry``, never the global one, so
tests and several applications in one process do not share counts. Label values come
from configuration (tenant, route) or from closed sets (outcomes, events, reasons), which
keeps cardinality bounded whatever clients send. Models and prompt versions are named by
clients, so the token, cost, attempt, first-token and fallback metrics check them here
against the sets the gateway was built with (the configured models, the declared prompt
versions): anything else is ``other``. Breakers exist only for configured models
(deployments). Every histogram has the same buckets, among them the latency SLO's 1 s and
the default deadline's 1.5 s.

The hot path is a dictionary lookup and an increment: each labelled child's values are looked
up once, then incremented directly. prometheus_client's own ``inc`` and ``observe`` check the
child's labels on every call and find a bucket by a loop: a cache miss updates 13 values, and
those checks made 33 of its 1,010 Python calls. The values (``Value``) are prometheus_client's,
so ``/metrics`` and the multiprocess files are exactly what its own methods would write.
They are private attributes (a child's ``_value``; a histogram child's ``_sum``, ``_buckets``
and ``_upper_bounds``): a prometheus_client that has them no more is served through its public
``inc``, ``set`` and ``observe`` instead, slower but the same.

Several workers (``--workers N``): prometheus_client chooses where values live when it
is imported — in process memory, or, when ``PROMETHEUS_MULTIPROC_DIR`` is set, in
per-process files in that directory. The launcher therefore sets the variable (to an
empty directory) before the workers import anything, and ``render`` checks it: when set,
``/metrics`` aggregates the files of all workers with ``MultiProcessCollector``, so any
worker answering the scrape reports the whole gateway. Counters and histograms are
summed; the breaker state gauge reports the worst state among live workers
(``livemax``), the in-flight gauge the sum over live workers (``livesum``: the supervisor
drops a dead worker's live gauges), the budget plans the value every worker sets from the
config (``max``, not a sum), the build info one series per build (``livemax``).
prometheus_client's own process collector reads only the process it runs in, so
``process_*`` comes from ``worker_processes`` instead: every live worker's, labelled by
``pid``, in both modes. A ``GatewayMetrics`` created while the
variable is set but values live in memory (the variable came after the import) refuses to
start rather than report nothing. In multiprocess mode a process holds one
``GatewayMetrics``: two would write the same per-process file.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
from bisect import bisect_left
from collections.abc import Iterable
from typing import Final, Literal, Protocol, TypeGuard, cast

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector

from .worker_processes import WorkerProcesses, live_workers, this_process


MULTIPROC_DIR_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
PREFIX: Final = "meltproof_gateway_"
DURATION_BUCKETS_S: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
BREAKER_STATES: Final = {"closed": 0, "half_open": 1, "open": 2}
TOO_MANY_REQUESTS: Final = 429
STATUS_CLASSES: Final = {
    status: str(status) if status == TOO_MANY_REQUESTS else f"{status // 100}xx"
    for status in range(100, 1000)
}
"""The ``status_class`` of each status: ``2xx``... and ``429`` apart from the other 4xx."""

OTHER: Final = "other"
"""The label of every model or prompt version outside the known sets."""

GaugeMode = Literal["livesum", "livemax", "max"]
"""How a gauge's values of several workers are combined (the modes in use here)."""


class Value(Protocol):
    """One value of a metric child as prometheus_client keeps it (in memory, or in this
    worker's file): ``inc`` adds and ``set`` replaces, under the value's own lock."""

    def inc(self, amount: float) -> None: ...

    def set(self, value: float) -> None: ...


class _Values:
    """A labelled counter or gauge family: each child's value, looked up once."""

    def __init__(self, family: Counter | Gauge) -> None:
        self._family = family
        self._values: dict[tuple[str, ...], Value] = {}

    def __call__(self, *label_values: str) -> Value:
        value = self._values.get(label_values)
        if value is None:
            child = self._family.labels(*label_values)
            value = self._values[label_values] = _value_of(child)
        return value


def _value_of(child: Counter | Gauge) -> Value:
    """The child's own value, or the child itself where it keeps none we know (a counter's
    child has no ``set``; no counter is ever set)."""
    value = getattr(child, "_value", None)
    return value if _is_value(value) else cast(Value, child)


def _is_value(value: object) -> TypeGuard[Value]:
    """Whether ``value`` can be added to and set, as prometheus_client's values can."""
    return callable(getattr(value, "inc", None)) and callable(getattr(value, "set", None))


class _Observations:
    """A labelled histogram family: each child's sum and buckets, looked up once; an
    observation adds to the sum and to the first bucket whose bound is at least the value
    (``le``: the bucket a value equal to a bound belongs to), as ``Histogram.observe`` does.
    A child whose sum and buckets are not where this expects them observes by itself."""

    def __init__(self, family: Histogram) -> None:
        self._family = family
        self._children: dict[
            tuple[str, ...], tuple[Value, list[Value], list[float]] | Histogram
        ] = {}

    def observe(self, label_values: tuple[str, ...], amount: float) -> None:
        child = self._children.get(label_values)
        if child is None:
            child = self._children[label_values] = _buckets_of(self._family.labels(*label_values))
        if not isinstance(child, tuple):
            child.observe(amount)
            return
        total, buckets, bounds = child
        total.inc(amount)
        buckets[bisect_left(bounds, amount)].inc(1)


def _buckets_of(child: Histogram) -> tuple[Value, list[Value], list[float]] | Histogram:
    """A histogram child's sum, buckets and bounds, or the child where they are not there."""
    total = getattr(child, "_sum", None)
    buckets = getattr(child, "_buckets", None)
    bounds = getattr(child, "_upper_bounds", None)
    if (
        _is_value(total)
        and isinstance(buckets, list)
        and isinstance(bounds, list)
        and len(buckets) == len(bounds)
        and all(_is_value(bucket) for bucket in buckets)
    ):
        return total, buckets, bounds
    return child


def _build_version() -> str:
    try:
        return importlib.metadata.version("meltproof")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout never installed
        return "unknown"


def _multiprocess_values() -> bool:
    """Whether prometheus_client keeps values in per-process files (chosen at its import)."""
    return bool(getattr(values.ValueClass, "_multiprocess", False))


class _KnownLabels:
    """A label whose values are a known set; any other value becomes ``OTHER``."""

    def __init__(self, known: Iterable[str]) -> None:
        self._known = frozenset(known)

    def __call__(self, value: str) -> str:
        return value if value in self._known else OTHER


class GatewayMetrics:
    """Counters, histograms and gauges of one gateway process.

    ``models`` and ``prompt_versions`` are the values those labels may take."""

    def __init__(self, *, models: Iterable[str] = (), prompt_versions: Iterable[str] = ()) -> None:
        self._model = _KnownLabels(models)
        self._version = _KnownLabels(prompt_versions)
        if os.environ.get(MULTIPROC_DIR_ENV) and not _multiprocess_values():
            raise RuntimeError(
                f"{MULTIPROC_DIR_ENV} was set after prometheus_client was imported, so this "
                "worker's metrics would be missing from /metrics; set it before the workers start"
            )
        self.registry = CollectorRegistry()

        def counter(name: str, doc: str, labels: tuple[str, ...]) -> _Values:
            return _Values(Counter(PREFIX + name, doc, labels, registry=self.registry))

        def histogram(name: str, doc: str, labels: tuple[str, ...]) -> _Observations:
            return _Observations(
                Histogram(
                    PREFIX + name, doc, labels, buckets=DURATION_BUCKETS_S, registry=self.registry
                )
            )

        def gauge(name: str, doc: str, labels: tuple[str, ...], mode: GaugeMode) -> _Values:
            return _Values(
                Gauge(PREFIX + name, doc, labels, multiprocess_mode=mode, registry=self.registry)
            )

        self._requests = counter(
            "requests_total", "Requests answered.", ("route", "tenant", "status_class", "cache")
        )
        self._duration = histogram(
            "request_duration_seconds",
            "Time from request received to response finished.",
            ("route", "cache"),
        )
        self._first_token = histogram(
            "time_to_first_token_seconds",
            "Streams relayed from the provider: time from request received to the first "
            "event with content, by the model that streamed it.",
            ("model",),
        )
        self._in_flight = gauge(
            "requests_in_flight",
            "Requests being served, by route (sum over live workers).",
            ("route",),
            "livesum",
        )
        self._auth_failures = counter(
            "auth_failures_total", "Requests refused with 401, by reason.", ("reason",)
        )
        self._tokens = counter(
            "tokens_total",
            "Tokens billed by the provider; direction in = prompt, out = completion.",
            ("tenant", "model", "prompt_version", "direction"),
        )
        self._cost = counter(
            "cost_usd_total", "Spend in US dollars.", ("tenant", "model", "prompt_version")
        )
        self._cache = counter("cache_total", "Response cache lookups by result.", ("result",))
        self._upstream = counter(
            "upstream_attempts_total", "Calls to the provider by outcome.", ("model", "outcome")
        )
        self._upstream_duration = histogram(
            "upstream_attempt_duration_seconds",
            "Time of each call to the provider, from sending it to its answer read whole (a "
            "stream: to its last event), by model and outcome.",
            ("model", "outcome"),
        )
        self._retries = counter("retries_total", "Retry decisions by outcome.", ("outcome",))
        self._breaker_transitions = counter(
            "breaker_transitions_total",
            "Circuit breaker state changes, by the state entered.",
            ("deployment", "to"),
        )
        self._breaker_state = gauge(
            "breaker_state",
            "Circuit breaker state: 0 closed, 1 half_open, 2 open (worst across workers).",
            ("deployment",),
            "livemax",
        )
        self._fallbacks = counter(
            "fallbacks_total", "Requests served by a fallback model.", ("from_model", "to_model")
        )
        self._degraded = counter(
            "degraded_total", "Degraded answers by route and reason.", ("route", "reason")
        )
        self._budget = counter(
            "budget_events_total",
            "Budget warnings, downgrades and rejections.",
            ("tenant", "event"),
        )
        self._limiter = counter(
            "limiter_events_total", "Rate limiter decisions.", ("scope", "event")
        )
        self._structured = counter(
            "structured_output_total", "Schema-checked answers by outcome.", ("outcome",)
        )
        self._budget_limit = gauge(
            "budget_limit_tokens", "A tenant's token plan: tokens per period.", ("tenant",), "max"
        )
        self._budget_period = gauge(
            "budget_period_seconds", "A tenant's budget period.", ("tenant",), "max"
        )
        build = gauge(
            "build_info",
            "Always 1: the gateway's version and the Python running it.",
            ("version", "python_version"),
            "livemax",
        )
        build(_build_version(), platform.python_version()).set(1.0)
        self.registry.register(WorkerProcesses(this_process))

    def request_finished(
        self, *, route: str, tenant: str, status: int, cache: str, seconds: float
    ) -> None:
        """One answered request: its status class (``2xx``..., ``429``) and its duration."""
        self._requests(route, tenant, STATUS_CLASSES[status], cache).inc(1)
        self._duration.observe((route, cache), seconds)

    def first_token(self, *, model: str, seconds: float) -> None:
        """A relayed stream's first event with content, ``seconds`` after the request came."""
        self._first_token.observe((self._model(model),), seconds)

    def in_flight(self, route: str) -> Value:
        """The value of ``route``'s requests in flight: ``inc(1)`` on arrival, ``inc(-1)`` when
        done."""
        return self._in_flight(route)

    def auth_failure(self, *, reason: str) -> None:
        """A request refused with 401: ``missing_api_key``, ``invalid_metrics_token``..."""
        self._auth_failures(reason).inc(1)

    def budget_plan(self, *, tenant: str, limit_tokens: int, period_s: float) -> None:
        """The token plan of a tenant whose budget is enforced."""
        self._budget_limit(tenant).set(float(limit_tokens))
        self._budget_period(tenant).set(period_s)

    def usage(
        self,
        *,
        tenant: str,
        model: str,
        prompt_version: str,
        prompt_tokens: int,
        completion_tokens: int,
        cost_usd: float,
    ) -> None:
        """Tokens and spend of one provider answer; a count below zero (a provider's error)
        counts as zero, so a counter never goes down."""
        model, prompt_version = self._model(model), self._version(prompt_version)
        self._tokens(tenant, model, prompt_version, "in").inc(max(prompt_tokens, 0))
        self._tokens(tenant, model, prompt_version, "out").inc(max(completion_tokens, 0))
        self._cost(tenant, model, prompt_version).inc(max(cost_usd, 0.0))

    def cache(self, result: str) -> None:
        """The cache status of a cacheable request: ``hit``, ``miss`` or ``coalesced``."""
        self._cache(result).inc(1)

    def upstream_attempt(self, *, model: str, outcome: str, seconds: float) -> None:
        """One call to the provider (``ok``, ``http_429``, ``http_5xx``, ``timeout``...) and
        how long it took."""
        labels = (self._model(model), outcome)
        self._upstream(*labels).inc(1)
        self._upstream_duration.observe(labels, seconds)

    def retry(self, *, outcome: str) -> None:
        """A retry decision: ``scheduled``, ``budget_exhausted`` or ``deadline``."""
        self._retries(outcome).inc(1)

    def breaker_transition(self, name: str, old: str, new: str) -> None:  # noqa: ARG002 - the breaker's listener signature
        """A breaker of deployment ``name`` entered ``new`` (one of ``BREAKER_STATES``)."""
        self._breaker_transitions(name, new).inc(1)
        self._breaker_state(name).set(float(BREAKER_STATES[new]))

    def fallback(self, *, from_model: str, to_model: str) -> None:
        """A request went to a fallback model."""
        self._fallbacks(self._model(from_model), self._model(to_model)).inc(1)

    def degraded(self, *, route: str, reason: str) -> None:
        """A degraded answer (stale cache, canned reply...) and why."""
        self._degraded(route, reason).inc(1)

    def budget(self, *, tenant: str, event: str) -> None:
        """A budget event: ``warn``, ``downgrade`` or ``reject``."""
        self._budget(tenant, event).inc(1)

    def limiter(self, *, scope: str, event: str) -> None:
        """A limiter decision (``tenant``/``global``): ``acquired``, ``rejected``, ``waited``..."""
        self._limiter(scope, event).inc(1)

    def structured(self, *, outcome: str) -> None:
        """A schema-checked answer: ``valid``, ``repaired`` or ``degraded``."""
        self._structured(outcome).inc(1)

    def render(self) -> tuple[bytes, str]:
        """The body and content type for ``/metrics``: all workers when multiprocess."""
        directory = os.environ.get(MULTIPROC_DIR_ENV)
        if directory:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
            registry.register(WorkerProcesses(lambda: live_workers(directory)))
            return generate_latest(registry), CONTENT_TYPE_PLAIN_0_0_4
        return generate_latest(self.registry), CONTENT_TYPE_PLAIN_0_0_4
