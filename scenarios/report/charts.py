"""The HTML report's charts as inline SVG, drawn from the ``Report``.

1. latency p50/p95/p99 per window and 2. requests per second by outcome, both with each
fault window shaded (a ``<rect class="fault fault-<kind>">``) and labelled; 3. tokens per
tenant and cost per model from the provider's ground truth (the provider counts cost by
model, not by tenant); 4. upstream calls against the oracle minimum and the client's
requests. A chart without data is a short note instead of an empty drawing.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence

from benchmarks.timeseries import Window

from .record import Report
from .svg import Area, band, bars, document, legend, line, ticks, x_axis, y_axis
from .views import NO_PROVIDER, number


WIDTH, HEIGHT = 760, 280
LEFT, TOP, RIGHT, BOTTOM = 64, 44, 20, 44
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM
TIME_LABEL = "seconds from the load's start"


def no_data(message: str) -> str:
    """A note standing in for a chart."""
    return f'<p class="no-data">{html.escape(message)}</p>'


def latency_chart(report: Report) -> str:
    """Latency percentiles of the requests intended in each window, in milliseconds."""
    windows = report.timeseries
    series = {
        "p50": [_ms(w.p50_s) for w in windows],
        "p95": [_ms(w.p95_s) for w in windows],
        "p99": [_ms(w.p99_s) for w in windows],
    }
    return time_chart(report, "Latency per window (ms)", "latency (ms)", series)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1e3


def rate_chart(report: Report) -> str:
    """Requests per second by outcome, by intended send time."""
    windows = report.timeseries
    window_s = window_length(windows)
    series = {
        "ok": [w.ok / window_s for w in windows],
        "failed": [w.failed / window_s for w in windows],
        "unknown": [w.unknown / window_s for w in windows],
    }
    return time_chart(report, "Requests per second by outcome", "requests/s", series)


def time_chart(
    report: Report,
    title: str,
    y_label: str,
    series: Mapping[str, Sequence[float | None]],
) -> str:
    """Lines over the run's time windows, fault windows shaded beneath them."""
    windows = report.timeseries
    values = [v for line_values in series.values() for v in line_values if v is not None]
    if not windows or not values:
        return no_data(f"{title}: no data (no request ended in any window).")
    window_s = window_length(windows)
    duration_s = report.run.duration_s or 0.0
    horizon_s = max(duration_s, windows[-1].start_s + window_s)
    y_ticks = ticks(max(values))
    area = Area(LEFT, TOP, WIDTH - LEFT - RIGHT, PLOT_HEIGHT, x_max=horizon_s, y_max=y_ticks[-1])
    middles = [w.start_s + window_s / 2 for w in windows]
    elements = [*y_axis(area, y_ticks, label=y_label), *fault_bands(report, area)]
    for index, values_of_line in enumerate(series.values()):
        elements += line(area, list(zip(middles, values_of_line, strict=True)), f"c{index}")
    elements += x_axis(area, ticks(horizon_s, count=8), label=TIME_LABEL)
    elements += legend(WIDTH / 2, 18, list(series))
    return document(WIDTH, HEIGHT, title, elements)


def window_length(windows: Sequence[Window]) -> float:
    """The windows' width in seconds (1 s when a single window does not tell)."""
    if len(windows) < 2:  # noqa: PLR2004 - two starts give a width
        return 1.0
    return float(windows[1].start_s - windows[0].start_s) or 1.0


def fault_bands(report: Report, area: Area) -> list[str]:
    """One shaded band per fault window; an unhealed fault runs to the chart's end."""
    bands = []
    for index, fault in enumerate(report.faults):
        ended = fault.ended_s
        label = fault.name + (" (never healed)" if ended is None else "")
        bands.append(
            band(
                area,
                fault.started_s,
                fault.end_or(area.x_max),
                css_class=f"fault fault-{css_name(fault.kind)}",
                label=label,
                row=index % 3,
            )
        )
    return bands


def css_name(text: str) -> str:
    """``text`` as a CSS class name part."""
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-") or "unnamed"


def spend_chart(report: Report) -> str:
    """Tokens per tenant and cost per model, as the provider counted them."""
    provider = report.provider
    if provider is None:
        return no_data(NO_PROVIDER)
    tenants, models = provider.tenants, provider.models
    if not tenants and not models:
        return no_data("The provider received no requests: no tokens and no cost.")
    tokens = [
        [float(t.prompt_tokens) for t in tenants],
        [float(t.completion_tokens) for t in tenants],
    ]
    costs = [m.cost_usd for m in models]
    split = LEFT + (WIDTH - LEFT - RIGHT) * 0.6
    token_ticks = ticks(max((v for values in tokens for v in values), default=0.0), whole=True)
    cost_ticks = ticks(max((c for c in costs if c is not None), default=0.0))
    token_area = Area(LEFT, TOP, split - LEFT - 40, PLOT_HEIGHT, x_max=1, y_max=token_ticks[-1])
    cost_area = Area(
        split + 40, TOP, WIDTH - RIGHT - split - 40, PLOT_HEIGHT, x_max=1, y_max=cost_ticks[-1]
    )
    names = [t.name for t in tenants]
    elements = [
        *y_axis(token_area, token_ticks, label="tokens per tenant"),
        *bars(token_area, names, tokens),
        *legend(LEFT + 120, 18, ["prompt", "completion"]),
        *y_axis(cost_area, cost_ticks, label="cost per model (USD)"),
        *bars(cost_area, [m.name for m in models], [costs], first_colour=2),
    ]
    return document(WIDTH, HEIGHT, "Tokens per tenant and cost per model", elements)


def upstream_chart(report: Report) -> str:
    """Provider calls beside the client's requests and the oracle minimum."""
    upstream = report.upstream
    figures = {
        "client requests": upstream.client_requests,
        "provider calls": upstream.provider_requests,
        "oracle minimum": upstream.oracle_min_calls,
        "distinct keys": upstream.distinct_requests,
    }
    known = [v for v in figures.values() if v is not None]
    if not any(known):
        return no_data("Upstream calls: no data (no request was made or counted).")
    y_ticks = ticks(max(known), whole=True)
    area = Area(LEFT, TOP, WIDTH - LEFT - RIGHT, PLOT_HEIGHT, x_max=1, y_max=y_ticks[-1])
    elements = [
        *y_axis(area, y_ticks, label="calls"),
        *bars(area, list(figures), [list(figures.values())]),
    ]
    caption = (
        "Oracle minimum: the upstream calls a perfect cache with a "
        f"{number(upstream.oracle_ttl_s)} s TTL that coalesces duplicates in flight "
        "would make on the same schedule; distinct keys: distinct (tenant, endpoint, prompt)."
    )
    chart = document(WIDTH, HEIGHT, "Upstream calls vs the oracle minimum", elements)
    return chart + f'<p class="caption">{html.escape(caption)}</p>'
