"""The HTML report's chart of a traced run's slowest requests: one bar per request, its
latency split into the parts its spans tell (``slowest``), on one millisecond scale."""

from __future__ import annotations

import html

from .record import Report, SlowRequest
from .slowest import PARTS
from .svg import Area, document, legend, ticks, x_axis
from .views import number


WIDTH = 760
LEFT, TOP, RIGHT = 150, 52, 20
LEGEND_ROW = 4
"""Parts per legend row (two rows fit the width)."""
BAR, GAP = 18, 8
BOTTOM = 64


def slowest_chart(report: Report) -> str:
    """Stacked bars of the slowest requests' parts; empty for a run that was not traced."""
    section = report.slowest_requests
    if section is None:
        return ""
    requests = [r for r in section.requests if r.parts]
    if not requests:
        return '<p class="no-data">No span of the slowest requests reached the receiver.</p>'
    longest = max(_total(request) for request in requests)
    scale = ticks(longest)
    height = TOP + len(requests) * (BAR + GAP) + BOTTOM
    area = Area(LEFT, TOP, WIDTH - LEFT - RIGHT, height - TOP - BOTTOM + GAP, scale[-1], 1.0)
    elements = [
        *legend(LEFT, 16, PARTS[:LEGEND_ROW]),
        *legend(LEFT, 34, PARTS[LEGEND_ROW:], first_colour=LEGEND_ROW),
    ]
    for rank, request in enumerate(requests):
        elements += _bar(area, rank, request)
    elements += x_axis(area, scale, label="milliseconds (from the intended send)")
    return document(WIDTH, height, "Where the slowest requests spent their time", elements)


def _total(request: SlowRequest) -> float:
    return sum(part.ms or 0.0 for part in request.parts)


def _bar(area: Area, rank: int, request: SlowRequest) -> list[str]:
    y = area.top + rank * (BAR + GAP)
    label = f"#{rank + 1} row {number(request.row)}"
    elements = [
        (
            f'<text class="tick" x="{area.left - 6:.1f}" y="{y + BAR - 5:.1f}" '
            f'text-anchor="end">{html.escape(label)}</text>'
        )
    ]
    start = 0.0
    colours = {part: index for index, part in enumerate(PARTS)}
    for part in request.parts:
        ms = part.ms or 0.0
        if ms <= 0:
            continue
        left, right = area.x(start), area.x(start + ms)
        title = html.escape(f"{part.part}: {number(ms)} ms")
        elements.append(
            f'<rect class="bar c{colours.get(part.part, 0)}" x="{left:.1f}" y="{y:.1f}" '
            f'width="{max(right - left, 0.5):.1f}" height="{BAR}"><title>{title}</title></rect>'
        )
        start += ms
    elements.append(
        f'<text class="value" x="{area.x(start) + 4:.1f}" y="{y + BAR - 5:.1f}">'
        f"{html.escape(number(request.latency_ms))} ms</text>"
    )
    return elements
