"""The report of one scenario run as one versioned type, ``Report``.

``build_report`` (``document``) makes it; ``to_dict`` gives its JSON form (``report.json``, NaN
as null) and ``from_dict`` reads that form back, so a stored report renders again without its
run. The renderings read its attributes. Sections the report carries over from the run as they
were recorded stay mappings: the testbed's facts, the steady-state probes, a foreign target's
facts and generated configuration files.

Version 2 added ``timeline``, ``provider.endpoints``, ``upstream.served_without_call``,
``run.target`` and the check validity ``"not_applicable"``; version 3 added
``slowest_requests``. A report of version 1 or 2 reads with those parts empty (and is written
back as version 3); one of another version is refused, naming both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from benchmarks.summary import Summary
from benchmarks.timeseries import Window
from faults import FaultWindow
from scenarios.checks.result import CheckResult
from scenarios.checks.run_verdict import RunVerdict


REPORT_SCHEMA_VERSION = 3
"""1: the first report; 2: timeline, target, provider per endpoint; 3: slowest requests."""
OLDEST_READABLE_VERSION = 1


class ReportSchemaError(ValueError):
    """A report document of a schema version this meltproof cannot read."""


def json_ready(value: Any) -> Any:
    """``value`` as plain JSON types: mappings with string keys, lists, finite floats or None."""
    if isinstance(value, Mapping):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    if isinstance(value, np.generic):
        return json_ready(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int):
        return value
    raise TypeError(f"a report holds JSON values only, not {type(value).__name__}: {value!r}")


@dataclass(frozen=True)
class ScenarioFacts:
    """The scenario's name, and its description when it has one."""

    name: str
    description: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: the description only when there is one."""
        described = {} if self.description is None else {"description": self.description}
        return {"name": self.name, **described}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScenarioFacts:
        """From ``to_dict``'s form."""
        return cls(name=data["name"], description=data.get("description"))


@dataclass(frozen=True)
class GatewayFacts:
    """How our gateway ran: its profile and its worker processes."""

    profile: str | None
    workers: int | None


@dataclass(frozen=True)
class RunFacts:
    """Where and when the run happened, against what."""

    path: str
    started_at: str
    """ISO 8601, UTC."""
    duration_s: float
    target_url: str
    gateway: GatewayFacts | None
    """Our gateway's facts; None for another target."""
    target: Mapping[str, Any] | None = None
    """A target other than our gateway as the run recorded it (free-form: kind, name,
    version, links, ``config`` file name -> generated text); None for ours."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "path": self.path,
            "started_at": self.started_at,
            "duration_s": self.duration_s,
            "target_url": self.target_url,
            "gateway": None if self.gateway is None else asdict(self.gateway),
            "target": self.target,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunFacts:
        """From ``to_dict``'s form (of version 1: no ``target``)."""
        gateway = data.get("gateway")
        return cls(
            path=data["path"],
            started_at=data["started_at"],
            duration_s=data["duration_s"],
            target_url=data["target_url"],
            gateway=None if gateway is None else GatewayFacts(**gateway),
            target=data.get("target"),
        )


@dataclass(frozen=True)
class GroupRow:
    """One endpoint's or tenant's requests as the client saw them (``tables``)."""

    name: str
    requests: int
    ok: int
    failed: int
    unknown: int
    pending: int
    error_rate: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    cache_hit_share: float | None
    coalesced_share: float | None
    degraded_share: float | None
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class ProviderCounters:
    """What the provider received of one group of calls; errors are non-2xx answers."""

    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    max_in_flight: int


@dataclass(frozen=True)
class ProviderRow(ProviderCounters):
    """The provider's counters of one tenant or endpoint kind."""

    name: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: the name first."""
        fields = asdict(self)
        return {"name": fields.pop("name"), **fields}


@dataclass(frozen=True)
class ModelRow(ProviderRow):
    """The provider's counters of one model, with their cost (None: the model has no price)."""

    cost_usd: float | None


@dataclass(frozen=True)
class ProviderTruth:
    """What the provider really received (``ground_truth``)."""

    total: ProviderCounters
    tenants: tuple[ProviderRow, ...]
    endpoints: tuple[ProviderRow, ...]
    models: tuple[ModelRow, ...]
    cost_usd: float | None
    """None while one model has no price."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "total": asdict(self.total),
            "tenants": [row.to_dict() for row in self.tenants],
            "endpoints": [row.to_dict() for row in self.endpoints],
            "models": [row.to_dict() for row in self.models],
            "cost_usd": self.cost_usd,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProviderTruth:
        """From ``to_dict``'s form (of version 1: no ``endpoints``)."""
        return cls(
            total=ProviderCounters(**data["total"]),
            tenants=tuple(ProviderRow(**row) for row in data["tenants"]),
            endpoints=tuple(ProviderRow(**row) for row in data.get("endpoints") or ()),
            models=tuple(ModelRow(**row) for row in data["models"]),
            cost_usd=data["cost_usd"],
        )


@dataclass(frozen=True)
class Upstream:
    """Client requests, provider calls and the oracle minimum, with their ratios."""

    client_requests: int
    provider_requests: int | None
    oracle_ttl_s: float
    oracle_min_calls: int | None
    distinct_requests: int | None
    amplification: float | None
    calls_per_client_request: float | None
    served_without_call: float | None = None
    """The share of OK answers served without a provider call, at least (version 2 on)."""


@dataclass(frozen=True)
class CallSeries:
    """The provider's calls per bucket of one endpoint kind, model and final status."""

    endpoint: str
    model: str
    """``-`` for calls refused before their model was known."""
    status: str
    counts: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {**asdict(self), "counts": list(self.counts)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CallSeries:
        """From ``to_dict``'s form."""
        return cls(data["endpoint"], data["model"], data["status"], tuple(data["counts"]))


@dataclass(frozen=True)
class ProviderCalls:
    """The provider's calls per bucket, from ``start_s`` on the load's time axis."""

    bucket_s: float
    start_s: float
    series: tuple[CallSeries, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "bucket_s": self.bucket_s,
            "start_s": self.start_s,
            "series": [series.to_dict() for series in self.series],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProviderCalls:
        """From ``to_dict``'s form."""
        series = tuple(CallSeries.from_dict(s) for s in data["series"])
        return cls(bucket_s=data["bucket_s"], start_s=data["start_s"], series=series)


@dataclass(frozen=True)
class ClientSignals:
    """The 429 answers and degraded answers clients got per bucket of intended send time."""

    bucket_s: float
    start_s: float
    rate_limited: tuple[int, ...]
    degraded: tuple[int, ...] | None
    """None for a target that does not flag degraded answers."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "bucket_s": self.bucket_s,
            "start_s": self.start_s,
            "rate_limited": list(self.rate_limited),
            "degraded": None if self.degraded is None else list(self.degraded),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClientSignals:
        """From ``to_dict``'s form."""
        degraded = data["degraded"]
        return cls(
            bucket_s=data["bucket_s"],
            start_s=data["start_s"],
            rate_limited=tuple(data["rate_limited"]),
            degraded=None if degraded is None else tuple(degraded),
        )


@dataclass(frozen=True)
class Timeline:
    """What the gateway did upstream over time beside what clients saw (``timeline``);
    both None in a report of version 1, from before the timeline."""

    provider: ProviderCalls | None
    """None when the run has no provider timeline."""
    clients: ClientSignals | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "provider": None if self.provider is None else self.provider.to_dict(),
            "clients": None if self.clients is None else self.clients.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Timeline:
        """From ``to_dict``'s form."""
        provider, clients = data.get("provider"), data.get("clients")
        return cls(
            provider=None if provider is None else ProviderCalls.from_dict(provider),
            clients=None if clients is None else ClientSignals.from_dict(clients),
        )


@dataclass(frozen=True)
class RequestPart:
    """A part of a slow request's latency (``slowest.PARTS``) and its share of it."""

    part: str
    ms: float
    share: float | None


@dataclass(frozen=True)
class SpanRow:
    """One span of a slow request, from the start of its request span."""

    name: str
    start_ms: float
    ms: float
    share: float | None
    detail: str
    error: bool


@dataclass(frozen=True)
class SlowRequest:
    """One of the slowest requests: its latency in parts, and the spans behind them."""

    row: int
    trace_id: str
    tenant: str
    endpoint: str
    status: int
    latency_ms: float
    gateway_ms: float | None
    """The request span's length; None when no span of it was received."""
    parts: tuple[RequestPart, ...]
    spans: tuple[SpanRow, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            **asdict(self),
            "parts": [asdict(part) for part in self.parts],
            "spans": [asdict(span) for span in self.spans],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SlowRequest:
        """From ``to_dict``'s form."""
        return cls(
            **{
                **data,
                "parts": tuple(RequestPart(**part) for part in data["parts"]),
                "spans": tuple(SpanRow(**span) for span in data["spans"]),
            }
        )


@dataclass(frozen=True)
class SlowestRequests:
    """A traced run's slowest requests (``slowest``)."""

    receiver: str
    requests: tuple[SlowRequest, ...]
    problem: str | None = None
    """Why the receiver could not be read, if it could not."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "receiver": self.receiver,
            "requests": [request.to_dict() for request in self.requests],
            "problem": self.problem,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SlowestRequests:
        """From ``to_dict``'s form."""
        requests = tuple(SlowRequest.from_dict(request) for request in data["requests"])
        return cls(receiver=data["receiver"], requests=requests, problem=data.get("problem"))


@dataclass(frozen=True, kw_only=True)
class Report:
    """Everything a reader needs to judge one scenario run, in reading order."""

    scenario: ScenarioFacts
    verdict: RunVerdict
    checks: tuple[CheckResult, ...]
    run: RunFacts
    testbed: Mapping[str, Any]
    """Free-form: the load history's testbed facts, then ``backend`` and ``images``."""
    summary: Summary
    """The run's summary (NaN where it has no figure)."""
    endpoints: tuple[GroupRow, ...]
    tenants: tuple[GroupRow, ...]
    provider: ProviderTruth | None
    """None for a target not wired to the simulated provider."""
    upstream: Upstream
    faults: tuple[FaultWindow, ...]
    steady_state: Mapping[str, Any]
    """Free-form, as the run recorded them: probe name -> ``{"verdict", "checks", ...}``."""
    timeseries: tuple[Window, ...]
    timeline: Timeline
    slowest_requests: SlowestRequests | None
    """None for a run that was not traced."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``report.json``), with its schema version: plain JSON, NaN as None."""
        document = {
            "schema_version": REPORT_SCHEMA_VERSION,
            "scenario": self.scenario.to_dict(),
            "verdict": self.verdict,
            "checks": [check.to_dict() for check in self.checks],
            "run": self.run.to_dict(),
            "testbed": self.testbed,
            "summary": self.summary.to_dict(),
            "endpoints": [asdict(row) for row in self.endpoints],
            "tenants": [asdict(row) for row in self.tenants],
            "provider": None if self.provider is None else self.provider.to_dict(),
            "upstream": asdict(self.upstream),
            "faults": [fault.to_dict() for fault in self.faults],
            "steady_state": self.steady_state,
            "timeseries": [asdict(window) for window in self.timeseries],
            "timeline": self.timeline.to_dict(),
            "slowest_requests": None
            if self.slowest_requests is None
            else self.slowest_requests.to_dict(),
        }
        ready: dict[str, Any] = json_ready(document)
        return ready

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        """The report of a ``to_dict`` form, of this schema version or an older one."""
        version = data.get("schema_version")
        if not isinstance(version, int) or not (
            OLDEST_READABLE_VERSION <= version <= REPORT_SCHEMA_VERSION
        ):
            raise ReportSchemaError(
                f"a report of schema version {version!r}; this meltproof reads versions "
                f"{OLDEST_READABLE_VERSION} to {REPORT_SCHEMA_VERSION} (a newer meltproof "
                "wrote it?)"
            )
        provider, slowest = data["provider"], data.get("slowest_requests")
        return cls(
            scenario=ScenarioFacts.from_dict(data["scenario"]),
            verdict=data["verdict"],
            checks=tuple(CheckResult.from_dict(check) for check in data["checks"]),
            run=RunFacts.from_dict(data["run"]),
            testbed=data["testbed"],
            summary=Summary.from_dict(dict(data["summary"])),
            endpoints=tuple(GroupRow(**row) for row in data["endpoints"]),
            tenants=tuple(GroupRow(**row) for row in data["tenants"]),
            provider=None if provider is None else ProviderTruth.from_dict(provider),
            upstream=Upstream(**data["upstream"]),
            faults=tuple(FaultWindow.from_dict(fault) for fault in data["faults"]),
            steady_state=data["steady_state"],
            timeseries=tuple(Window(**window) for window in data["timeseries"]),
            timeline=Timeline.from_dict(data.get("timeline") or {}),
            slowest_requests=None if slowest is None else SlowestRequests.from_dict(slowest),
        )
