"""The report's tables and lines as text, shared by the Markdown and HTML renderings.

Views read the ``Report`` only (missing figures as None, NaN in its summary), format numbers
with their units, and leave escaping to the renderer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.summary import Percentiles
from scenarios.checks.result import NOT_APPLICABLE

from .record import GroupRow, ProviderRow, Report
from .timeline_tracks import (
    client_tracks,
    degraded_unreported,
    fault_intervals,
    horizon_s,
    model_tracks,
    provider_tracks,
)


MISSING = "—"
GROUPED_FROM = 1000
"""Figures from this size on are shown as grouped integers (12,345 rather than 1.234e+04)."""


@dataclass(frozen=True)
class TableView:
    """A titled table of text cells; ``note`` is shown instead when there are no rows."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


def number(value: float | None) -> str:
    """A figure for reading: integers grouped, other values to four significant digits."""
    if value is None:
        return MISSING
    if isinstance(value, int) or abs(value) >= GROUPED_FROM:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def with_unit(value: float | None, unit: str) -> str:
    """``value`` followed by its unit, or the missing mark alone."""
    return number(value) if value is None or not unit else f"{number(value)} {unit}"


def share(value: float | None) -> str:
    """A fraction as a percentage."""
    return MISSING if value is None else f"{value * 100:.1f}%"


def usd(value: float | None) -> str:
    """An amount of US dollars."""
    return MISSING if value is None else f"${number(value)}"


def known(value: float) -> float | None:
    """A summary's figure, None where it has none (NaN)."""
    return None if math.isnan(value) else value


def milliseconds(*seconds: float) -> str:
    """Some of a ``Percentiles``' figures (in seconds, NaN for none) as ``a / b / c ms``."""
    return " / ".join(number(None if math.isnan(v) else v * 1e3) for v in seconds) + " ms"


NOT_APPLICABLE_TEXT = "N/A"


def validity_text(valid: object) -> str:
    """A check's validity as PASS, FAIL, N/A (not applicable to the target) or UNKNOWN."""
    if valid is True:
        return "PASS"
    if valid is False:
        return "FAIL"
    return NOT_APPLICABLE_TEXT if valid == NOT_APPLICABLE else "UNKNOWN"


def verdict_text(report: Report) -> str:
    """The run's verdict in capitals."""
    return report.verdict.upper()


def checks_view(report: Report) -> TableView:
    """Each check: its verdict, what was observed against what limit, and why."""
    rows = tuple(
        (
            check.name,
            check.kind,
            validity_text(check.valid),
            with_unit(check.observed, check.unit),
            with_unit(check.limit, check.unit),
            check.details,
        )
        for check in report.checks
    )
    headers = ("Check", "Kind", "Verdict", "Observed", "Limit", "Details")
    return TableView("Checks", headers, rows, note="No checks ran.")


def not_applicable_line(report: Report) -> str:
    """What N/A means, when a check reads it; else empty."""
    if not any(check.valid == NOT_APPLICABLE for check in report.checks):
        return ""
    return (
        f"{NOT_APPLICABLE_TEXT}: the target cannot give the check's figure (its details say "
        "why); it neither passes nor fails the run."
    )


def summary_view(report: Report) -> TableView:
    """The run's headline figures."""
    summary = report.summary
    outcomes = (summary.ok, summary.failed, summary.unknown, summary.pending)
    rates = (summary.target_rate_rps, summary.achieved_rate_rps)
    rows = (
        ("Requests scheduled", number(summary.scheduled)),
        ("Rate target / achieved", " / ".join(number(v) for v in rates) + " req/s"),
        ("OK / failed / unknown / pending", " / ".join(number(v) for v in outcomes)),
        ("Error rate", share(known(summary.error_rate))),
        ("Errors by kind", ", ".join(f"{k}: {v}" for k, v in summary.errors.items()) or "none"),
        ("Latency p50 / p95 / p99 / p99.9 / max", _latency_ms(summary.latency_s, max_s=True)),
        ("Latency of successes p50 / p95 / p99", _latency_ms(summary.ok_latency_s)),
        ("Uncorrected latency p99", milliseconds(summary.uncorrected_latency_s.p99_s)),
        ("Schedule lag p99", milliseconds(summary.lag_s.p99_s)),
        ("TTFT p50 / p95", milliseconds(summary.ttft_s.p50_s, summary.ttft_s.p95_s)),
        ("TPOT p50 / p95", milliseconds(summary.tpot_s.p50_s, summary.tpot_s.p95_s)),
    )
    return TableView("Summary", ("Figure", "Value"), rows)


def _latency_ms(latency: Percentiles, *, max_s: bool = False) -> str:
    """p50 / p95 / p99, then p99.9 and the maximum if asked."""
    tail = (latency.p999_s, latency.max_s) if max_s else ()
    return milliseconds(latency.p50_s, latency.p95_s, latency.p99_s, *tail)


def group_view(groups: Sequence[GroupRow], title: str, label: str) -> TableView:
    """Per-endpoint or per-tenant figures as the client saw them."""
    headers = (
        label, "Requests", "OK", "Failed", "Unknown", "Error rate", "p50", "p95", "p99",
        "Cache hits", "Coalesced", "Degraded", "Prompt tokens", "Completion tokens",
    )  # fmt: skip
    rows = tuple(
        (
            row.name,
            *(number(n) for n in (row.requests, row.ok, row.failed, row.unknown)),
            share(row.error_rate),
            *(with_unit(ms, "ms") for ms in (row.p50_ms, row.p95_ms, row.p99_ms)),
            *(share(s) for s in (row.cache_hit_share, row.coalesced_share, row.degraded_share)),
            number(row.prompt_tokens),
            number(row.completion_tokens),
        )
        for row in groups
    )
    return TableView(title, headers, rows, note="No requests.")


NO_PROVIDER = "No provider ground truth: the target's upstream was not the simulated provider."
COUNTER_HEADERS = ("Requests", "Errors", "Prompt tokens", "Completion tokens", "Max in flight")


def counter_cells(row: ProviderRow) -> tuple[str, ...]:
    """A provider row's name and its counters."""
    counters = (row.requests, row.errors, row.prompt_tokens, row.completion_tokens)
    return (row.name, *(number(n) for n in (*counters, row.max_in_flight)))


def provider_views(report: Report) -> tuple[TableView, TableView, TableView]:
    """What the provider received per tenant, per endpoint kind, and per model with its cost."""
    provider = report.provider
    tenants: tuple[tuple[str, ...], ...] = ()
    endpoints: tuple[tuple[str, ...], ...] = ()
    models: tuple[tuple[str, ...], ...] = ()
    if provider is not None:
        tenants = tuple(counter_cells(row) for row in provider.tenants)
        endpoints = tuple(counter_cells(row) for row in provider.endpoints)
        models = tuple((*counter_cells(row), usd(row.cost_usd)) for row in provider.models)
    if provider is not None and models:
        models += (("total", *([""] * len(COUNTER_HEADERS)), usd(provider.cost_usd)),)
    note = NO_PROVIDER if provider is None else "The provider received no requests."
    return (
        TableView("Provider ground truth per tenant", ("Tenant", *COUNTER_HEADERS), tenants, note),
        TableView(
            "Provider ground truth per endpoint kind",
            ("Endpoint", *COUNTER_HEADERS),
            endpoints,
            note,
        ),
        TableView(
            "Provider ground truth per model", ("Model", *COUNTER_HEADERS, "Cost"), models, note
        ),
    )


def upstream_view(report: Report) -> TableView:
    """Upstream calls against what the client asked and what a perfect cache would need."""
    upstream = report.upstream
    ttl = number(upstream.oracle_ttl_s)
    rows = (
        ("Client requests", number(upstream.client_requests)),
        ("Provider calls", number(upstream.provider_requests)),
        (f"Oracle minimum (cache TTL {ttl} s)", number(upstream.oracle_min_calls)),
        ("Distinct requests", number(upstream.distinct_requests)),
        ("Amplification (provider calls / oracle minimum)", times(upstream.amplification)),
        ("Provider calls per client request", number(upstream.calls_per_client_request)),
        (
            "OK answers served without a provider call (at least)",
            share(upstream.served_without_call),
        ),
    )
    return TableView("Upstream calls vs the oracle", ("Figure", "Value"), rows)


SPARKLINE_WIDTH = 40
"""At most this many characters (one per second of a shorter run)."""
NO_DEGRADED = "The target flags no answer degraded (x-degraded is our gateway's header)."
NO_TIMELINE = (
    "No provider timeline: the target's upstream was not the simulated provider (or the run "
    "is older than the timeline)."
)


def timeline_view(report: Report) -> TableView:
    """Calls per second over time: the provider's by model and status, then the clients' 429
    and degraded answers; with their peak, their rate outside and during faults, and a
    sparkline over the run."""
    provider = provider_tracks(report)
    labelled = [
        *(("provider", track) for track in provider or ()),
        *(("provider, all statuses", track) for track in model_tracks(report) or ()),
        *(("clients", track) for track in client_tracks(report)),
    ]
    horizon = horizon_s(report)
    faults = fault_intervals(report, horizon)
    rows: list[tuple[str, ...]] = []
    for side, track in labelled:
        peak, at_s = track.peak()
        rows.append(
            (
                f"{side}: {track.name}",
                number(sum(track.counts)),
                f"{number(peak)} at {at_s:.0f} s",
                number(track.per_s(faults, horizon, inside=False)),
                number(track.per_s(faults, horizon, inside=True)),
                track.sparkline(horizon, min(SPARKLINE_WIDTH, math.ceil(horizon))),
            )
        )
    if provider is None:
        rows.insert(0, ("provider", MISSING, MISSING, MISSING, MISSING, NO_TIMELINE))
    if degraded_unreported(report):
        rows.append(("clients: degraded answers", *[MISSING] * 4, NO_DEGRADED))
    headers = (
        "Series", "Total", "Peak per s", "Per s outside faults", "Per s during faults",
        f"Over the run (0-{horizon:.0f} s)",
    )  # fmt: skip
    return TableView("Calls per second over time", headers, tuple(rows))


def times(value: float | None) -> str:
    """A ratio as a multiple."""
    return MISSING if value is None else f"{number(value)}x"


def faults_view(report: Report) -> TableView:
    """The fault log: when each fault really acted, in seconds from the load's start."""
    rows = []
    for fault in report.faults:
        started, ended = fault.started_s, fault.ended_s
        lasted = None if ended is None else ended - started
        rows.append(
            (
                fault.name,
                fault.kind,
                fault.target or MISSING,
                with_unit(fault.planned_at_s, "s"),
                with_unit(started, "s"),
                "never healed" if ended is None else with_unit(ended, "s"),
                with_unit(lasted, "s"),
                fault.error or "",
            )
        )
    headers = ("Fault", "Kind", "Target", "Planned at", "Started", "Ended", "Lasted", "Error")
    return TableView("Fault log", headers, tuple(rows), note="No faults were injected.")


def steady_state_view(report: Report) -> TableView:
    """The steady-state probes before and after the load (free-form, as the run recorded
    them)."""
    rows = tuple(
        (str(name), str(probe.get("verdict", MISSING)).upper(), _probe_details(probe))
        for name, probe in report.steady_state.items()
        if isinstance(probe, Mapping)
    )
    note = "No steady-state probes were recorded."
    return TableView("Steady state", ("Probe", "Verdict", "Details"), rows, note)


def _probe_details(probe: Mapping[str, Any]) -> str:
    """Each probe check's verdict and details, then the generator's shortfall if any."""
    parts = [
        f"{c.get('name')}: {validity_text(c.get('valid'))} ({c.get('details', '')})"
        for c in probe.get("checks") or ()
    ]
    if probe.get("shortfall"):
        parts.append(str(probe["shortfall"]))
    return "; ".join(parts)


def detail_views(report: Report) -> list[TableView]:
    """Every table after the checks, in reading order."""
    return [
        summary_view(report),
        group_view(report.endpoints, "Per endpoint (as the client saw it)", "Endpoint"),
        group_view(report.tenants, "Per tenant (as the client saw it)", "Tenant"),
        *provider_views(report),
        upstream_view(report),
        timeline_view(report),
        faults_view(report),
        steady_state_view(report),
    ]


def run_line(report: Report) -> str:
    """Which target was loaded, how, when and for how long."""
    run = report.run
    gateway = run.gateway
    target: Mapping[str, Any] = run.target or {}
    parts = [f"Target {run.target_url or MISSING}"]
    if gateway is not None:
        parts.append(
            f"gateway profile {gateway.profile or MISSING}, {number(gateway.workers)} worker(s)"
        )
    elif target:
        version = target.get("version") or "version unknown"
        parts.append(f"{target.get('kind')} {target.get('name')} ({version})")
    parts += [
        f"started {run.started_at or MISSING}",
        f"load of {with_unit(run.duration_s, 's')}",
        f"run directory {run.path or MISSING}",
    ]
    return "; ".join(parts) + "."


def target_config(report: Report) -> list[tuple[str, str]]:
    """The configuration files generated for a target that is not ours: (name, text)."""
    target: Mapping[str, Any] = report.run.target or {}
    config: Mapping[str, Any] = target.get("config") or {}
    return [(str(name), str(text)) for name, text in config.items()]


TARGET_CONFIG_TITLE = "Target configuration"


def testbed_line(report: Report) -> str:
    """The machine and software the run was measured on (free-form facts)."""
    testbed = report.testbed
    described = ", ".join(
        f"{key} {value}" for key, value in testbed.items() if key != "images" and value is not None
    )
    images = "; ".join(
        f"{service} {image.get('name')} ({image.get('repo_digest') or image.get('id')})"
        for service, image in (testbed.get("images") or {}).items()
    )
    return f"Testbed: {described or 'not recorded'}." + (f" Images: {images}." if images else "")
