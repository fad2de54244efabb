"""The report's tables and lines as text, shared by the Markdown and HTML renderings.

Views read the report document only (plain JSON, missing figures as None), format numbers
with their units, and leave escaping to the renderer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scenarios.checks.result import NOT_APPLICABLE

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


def milliseconds(percentiles: Mapping[str, Any], keys: Sequence[str]) -> str:
    """Some of a ``Percentiles`` dict's figures (in seconds) as ``a / b / c ms``."""
    values = [percentiles.get(key) for key in keys]
    return " / ".join(number(None if v is None else v * 1e3) for v in values) + " ms"


NOT_APPLICABLE_TEXT = "N/A"


def validity_text(valid: object) -> str:
    """A check's validity as PASS, FAIL, N/A (not applicable to the target) or UNKNOWN."""
    if valid is True:
        return "PASS"
    if valid is False:
        return "FAIL"
    return NOT_APPLICABLE_TEXT if valid == NOT_APPLICABLE else "UNKNOWN"


def verdict_text(report: Mapping[str, Any]) -> str:
    """The run's verdict in capitals."""
    return str(report.get("verdict", "unknown")).upper()


def checks_view(report: Mapping[str, Any]) -> TableView:
    """Each check: its verdict, what was observed against what limit, and why."""
    rows = tuple(
        (
            str(check.get("name", "")),
            str(check.get("kind", "")),
            validity_text(check.get("valid")),
            with_unit(check.get("observed"), check.get("unit", "")),
            with_unit(check.get("limit"), check.get("unit", "")),
            str(check.get("details", "")),
        )
        for check in report.get("checks") or ()
    )
    headers = ("Check", "Kind", "Verdict", "Observed", "Limit", "Details")
    return TableView("Checks", headers, rows, note="No checks ran.")


def not_applicable_line(report: Mapping[str, Any]) -> str:
    """What N/A means, when a check reads it; else empty."""
    checks = report.get("checks") or ()
    if not any(check.get("valid") == NOT_APPLICABLE for check in checks):
        return ""
    return (
        f"{NOT_APPLICABLE_TEXT}: the target cannot give the check's figure (its details say "
        "why); it neither passes nor fails the run."
    )


def summary_view(report: Mapping[str, Any]) -> TableView:
    """The run's headline figures."""
    summary: Mapping[str, Any] = report.get("summary") or {}
    latency = summary.get("latency_s") or {}
    errors: Mapping[str, int] = summary.get("errors") or {}
    outcomes = (summary.get(key) for key in ("ok", "failed", "unknown", "pending"))
    rates = (summary.get(key) for key in ("target_rate_rps", "achieved_rate_rps"))
    rows = (
        ("Requests scheduled", number(summary.get("scheduled"))),
        ("Rate target / achieved", " / ".join(number(v) for v in rates) + " req/s"),
        ("OK / failed / unknown / pending", " / ".join(number(v) for v in outcomes)),
        ("Error rate", share(summary.get("error_rate"))),
        ("Errors by kind", ", ".join(f"{k}: {v}" for k, v in errors.items()) or "none"),
        (
            "Latency p50 / p95 / p99 / p99.9 / max",
            milliseconds(latency, ("p50_s", "p95_s", "p99_s", "p999_s", "max_s")),
        ),
        (
            "Latency of successes p50 / p95 / p99",
            milliseconds(summary.get("ok_latency_s") or {}, ("p50_s", "p95_s", "p99_s")),
        ),
        (
            "Uncorrected latency p99",
            milliseconds(summary.get("uncorrected_latency_s") or {}, ("p99_s",)),
        ),
        ("Schedule lag p99", milliseconds(summary.get("lag_s") or {}, ("p99_s",))),
        ("TTFT p50 / p95", milliseconds(summary.get("ttft_s") or {}, ("p50_s", "p95_s"))),
        ("TPOT p50 / p95", milliseconds(summary.get("tpot_s") or {}, ("p50_s", "p95_s"))),
    )
    return TableView("Summary", ("Figure", "Value"), rows)


def group_view(report: Mapping[str, Any], key: str, title: str, label: str) -> TableView:
    """Per-endpoint or per-tenant figures as the client saw them."""
    headers = (
        label, "Requests", "OK", "Failed", "Unknown", "Error rate", "p50", "p95", "p99",
        "Cache hits", "Coalesced", "Degraded", "Prompt tokens", "Completion tokens",
    )  # fmt: skip
    rows = tuple(
        (
            str(row.get("name", "")),
            *(number(row.get(k)) for k in ("requests", "ok", "failed", "unknown")),
            share(row.get("error_rate")),
            *(with_unit(row.get(k), "ms") for k in ("p50_ms", "p95_ms", "p99_ms")),
            *(share(row.get(k)) for k in ("cache_hit_share", "coalesced_share", "degraded_share")),
            number(row.get("prompt_tokens")),
            number(row.get("completion_tokens")),
        )
        for row in report.get(key) or ()
    )
    return TableView(title, headers, rows, note="No requests.")


NO_PROVIDER = "No provider ground truth: the target's upstream was not the simulated provider."
COUNTER_KEYS = ("requests", "errors", "prompt_tokens", "completion_tokens", "max_in_flight")
COUNTER_HEADERS = ("Requests", "Errors", "Prompt tokens", "Completion tokens", "Max in flight")


def provider_views(report: Mapping[str, Any]) -> tuple[TableView, TableView, TableView]:
    """What the provider received per tenant, per endpoint kind, and per model with its cost."""
    provider: Mapping[str, Any] = report.get("provider") or {}
    tenants, endpoints = (
        tuple(
            (str(row.get("name", "")), *(number(row.get(k)) for k in COUNTER_KEYS))
            for row in provider.get(key) or ()
        )
        for key in ("tenants", "endpoints")
    )
    models = tuple(
        (
            str(row.get("name", "")),
            *(number(row.get(k)) for k in COUNTER_KEYS),
            usd(row.get("cost_usd")),
        )
        for row in provider.get("models") or ()
    )
    if models:
        models += (("total", *([""] * len(COUNTER_KEYS)), usd(provider.get("cost_usd"))),)
    note = NO_PROVIDER if not provider else "The provider received no requests."
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


def upstream_view(report: Mapping[str, Any]) -> TableView:
    """Upstream calls against what the client asked and what a perfect cache would need."""
    upstream: Mapping[str, Any] = report.get("upstream") or {}
    ttl = number(upstream.get("oracle_ttl_s"))
    rows = (
        ("Client requests", number(upstream.get("client_requests"))),
        ("Provider calls", number(upstream.get("provider_requests"))),
        (f"Oracle minimum (cache TTL {ttl} s)", number(upstream.get("oracle_min_calls"))),
        ("Distinct requests", number(upstream.get("distinct_requests"))),
        ("Amplification (provider calls / oracle minimum)", times(upstream.get("amplification"))),
        ("Provider calls per client request", number(upstream.get("calls_per_client_request"))),
        (
            "OK answers served without a provider call (at least)",
            share(upstream.get("served_without_call")),
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


def timeline_view(report: Mapping[str, Any]) -> TableView:
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


def faults_view(report: Mapping[str, Any]) -> TableView:
    """The fault log: when each fault really acted, in seconds from the load's start."""
    rows = []
    for fault in report.get("faults") or ():
        started, ended = fault.get("started_s"), fault.get("ended_s")
        lasted = None if started is None or ended is None else ended - started
        rows.append(
            (
                str(fault.get("name", "")),
                str(fault.get("kind", "")),
                str(fault.get("target") or MISSING),
                with_unit(fault.get("planned_at_s"), "s"),
                with_unit(started, "s"),
                "never healed" if ended is None else with_unit(ended, "s"),
                with_unit(lasted, "s"),
                str(fault.get("error") or ""),
            )
        )
    headers = ("Fault", "Kind", "Target", "Planned at", "Started", "Ended", "Lasted", "Error")
    return TableView("Fault log", headers, tuple(rows), note="No faults were injected.")


def steady_state_view(report: Mapping[str, Any]) -> TableView:
    """The steady-state probes before and after the load."""
    probes: Mapping[str, Any] = report.get("steady_state") or {}
    rows = tuple(
        (str(name), str(probe.get("verdict", MISSING)).upper(), _probe_details(probe))
        for name, probe in probes.items()
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


def detail_views(report: Mapping[str, Any]) -> list[TableView]:
    """Every table after the checks, in reading order."""
    return [
        summary_view(report),
        group_view(report, "endpoints", "Per endpoint (as the client saw it)", "Endpoint"),
        group_view(report, "tenants", "Per tenant (as the client saw it)", "Tenant"),
        *provider_views(report),
        upstream_view(report),
        timeline_view(report),
        faults_view(report),
        steady_state_view(report),
    ]


def run_line(report: Mapping[str, Any]) -> str:
    """Which target was loaded, how, when and for how long."""
    run: Mapping[str, Any] = report.get("run") or {}
    gateway = run.get("gateway")
    target: Mapping[str, Any] = run.get("target") or {}
    parts = [f"Target {run.get('target_url') or MISSING}"]
    if gateway:
        parts.append(
            f"gateway profile {gateway.get('profile') or MISSING}, "
            f"{number(gateway.get('workers'))} worker(s)"
        )
    elif target:
        version = target.get("version") or "version unknown"
        parts.append(f"{target.get('kind')} {target.get('name')} ({version})")
    parts += [
        f"started {run.get('started_at') or MISSING}",
        f"load of {with_unit(run.get('duration_s'), 's')}",
        f"run directory {run.get('path') or MISSING}",
    ]
    return "; ".join(parts) + "."


def target_config(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The configuration files generated for a target that is not ours: (name, text)."""
    target: Mapping[str, Any] = (report.get("run") or {}).get("target") or {}
    config: Mapping[str, Any] = target.get("config") or {}
    return [(str(name), str(text)) for name, text in config.items()]


TARGET_CONFIG_TITLE = "Target configuration"


def testbed_line(report: Mapping[str, Any]) -> str:
    """The machine and software the run was measured on."""
    testbed: Mapping[str, Any] = report.get("testbed") or {}
    described = ", ".join(
        f"{key} {value}" for key, value in testbed.items() if key != "images" and value is not None
    )
    images = "; ".join(
        f"{service} {image.get('name')} ({image.get('repo_digest') or image.get('id')})"
        for service, image in (testbed.get("images") or {}).items()
    )
    return f"Testbed: {described or 'not recorded'}." + (f" Images: {images}." if images else "")
