"""The HTML report's charts of the timeline, with each fault window shaded and labelled.

1. Provider calls per second by model and status, from the provider's ground truth, for any
   target: a line's colour is its model and its dash its status (solid 2xx, dashed 429, dotted
   5xx, dash-dotted anything else, such as 4xx or 499 for a client that went away), so that a
   fallback from one model to another, or a storm of retries, shows at a glance.
2. Provider calls per second by model, whatever their status: a model flag flipped on the
   timeline (a ``flag`` event, shaded like a fault) shows as calls moving between models.
3. The 429 answers and the degraded answers clients got per second, on the same time axis.

A chart without data is a short note instead of an empty drawing.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from .charts import BOTTOM, HEIGHT, LEFT, RIGHT, TIME_LABEL, TOP, WIDTH, fault_bands, no_data
from .record import Report
from .svg import Area, document, legend_column, line, ticks, x_axis, y_axis
from .timeline_tracks import (
    Track,
    client_tracks,
    degraded_unreported,
    horizon_s,
    model_tracks,
    provider_tracks,
)
from .views import NO_DEGRADED, NO_TIMELINE


LEGEND_WIDTH = 200
ROW_HEIGHT = 14
MODEL_COLOURS = 6
"""Colour classes ``c0``... ``c5``; a seventh model shares the first one's colour."""


def status_class(status: str) -> str:
    """The dash class of a status: ``s-ok``, ``s-429``, ``s-5xx`` or ``s-other``."""
    if status.startswith("2"):
        return "s-ok"
    if status == "429":
        return "s-429"
    return "s-5xx" if status.startswith("5") else "s-other"


def provider_calls_chart(report: Report) -> str:
    """Provider calls per second, one line per model and status."""
    tracks = provider_tracks(report)
    if tracks is None:
        return no_data(NO_TIMELINE)
    if not any(any(t.counts) for t in tracks):
        return no_data("Provider calls per second: the provider received no calls.")
    models = list(dict.fromkeys(t.group for t in tracks))
    lines = [
        (t, f"c{models.index(t.group) % MODEL_COLOURS} {status_class(t.status)}") for t in tracks
    ]
    return tracks_chart(report, "Provider calls per second by model and status", lines)


def model_calls_chart(report: Report) -> str:
    """Provider calls per second, one line per model."""
    tracks = model_tracks(report)
    if tracks is None:
        return no_data(NO_TIMELINE)
    if not any(any(t.counts) for t in tracks):
        return no_data("Calls per model: the provider received no calls.")
    lines = [(t, f"c{index % MODEL_COLOURS} s-ok") for index, t in enumerate(tracks)]
    return tracks_chart(report, "Provider calls per second by model", lines)


def client_signals_chart(report: Report) -> str:
    """The clients' 429 answers and degraded answers per second."""
    tracks = client_tracks(report)
    unreported = degraded_unreported(report)
    caption = f'<p class="caption">{html.escape(NO_DEGRADED)}</p>' if unreported else ""
    if not any(any(t.counts) for t in tracks):
        return no_data("No client got a 429 or a degraded answer.") + caption
    lines = [(t, f"c{index} s-ok") for index, t in enumerate(tracks)]
    chart = tracks_chart(report, "429 and degraded answers seen by clients per second", lines)
    return chart + caption


def tracks_chart(report: Report, title: str, lines: Sequence[tuple[Track, str]]) -> str:
    """Each track as a line of counts per second, styled by its CSS classes, with a legend
    column at the right and the fault windows shaded beneath."""
    horizon = horizon_s(report)
    height = max(HEIGHT, TOP + len(lines) * ROW_HEIGHT + BOTTOM)
    plot_width = WIDTH - LEFT - RIGHT - LEGEND_WIDTH
    rates = [
        [(middle, value / track.bucket_s) for middle, value in track.buckets(horizon)]
        for track, _ in lines
    ]
    y_ticks = ticks(max(rate for points in rates for _, rate in points))
    area = Area(LEFT, TOP, plot_width, height - TOP - BOTTOM, x_max=horizon, y_max=y_ticks[-1])
    elements = [*y_axis(area, y_ticks, label="per second"), *fault_bands(report, area)]
    for points, (_, css_class) in zip(rates, lines, strict=True):
        elements += line(area, points, css_class)
    elements += x_axis(area, ticks(horizon, count=8), label=TIME_LABEL)
    legend_x = LEFT + plot_width + 16
    elements += legend_column(legend_x, TOP, [(t.name, css_class) for t, css_class in lines])
    return document(WIDTH, height, title, elements)
