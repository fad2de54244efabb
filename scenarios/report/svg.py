"""Small inline-SVG drawing helpers: a plot area, axes, lines, bars, shaded bands, legends.

Each helper returns SVG elements as strings. Every text put into the SVG is escaped with
``html.escape``; colours and strokes come from the page's CSS classes (``c0``... for
series, ``fault`` for shaded bands), so the drawing itself carries no style.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass


LABEL_CHARS = 16
SMALL = 0.01
"""Values below this are written out in decimals: tiny costs read better than exponents."""


@dataclass(frozen=True)
class Area:
    """A plot area in pixels onto which data coordinates [x_min, x_max] by [0, y_max] map."""

    left: float
    top: float
    width: float
    height: float
    x_max: float
    y_max: float
    x_min: float = 0.0

    @property
    def bottom(self) -> float:
        """The pixel row of y = 0."""
        return self.top + self.height

    def x(self, value: float) -> float:
        """The pixel column of ``value``."""
        return self.left + (value - self.x_min) / (self.x_max - self.x_min) * self.width

    def y(self, value: float) -> float:
        """The pixel row of ``value``."""
        return self.bottom - value / self.y_max * self.height


def document(width: int, height: int, title: str, elements: Sequence[str]) -> str:
    """An ``<svg>`` element of ``width`` by ``height`` pixels with an accessible title."""
    label = html.escape(title)
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{label}"><title>{label}</title>' + "".join(elements) + "</svg>"
    )


def ticks(maximum: float, *, count: int = 5, whole: bool = False) -> list[float]:
    """Round tick values from 0 to at least ``maximum`` (to 1 when there is nothing to show).

    ``whole``: the values are counts, so the ticks are whole numbers too.
    """
    if not math.isfinite(maximum) or maximum <= 0:
        maximum = 1.0
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    factors = (1, 2, 5, 10) if whole else (1, 2, 2.5, 5, 10)
    step = next(f * magnitude for f in factors if raw <= f * magnitude * (1 + 1e-9))
    if whole:
        step = max(step, 1)
    steps = math.ceil(maximum / step - 1e-9)
    return [round(k * step, 12) for k in range(steps + 1)]


def compact(value: float) -> str:
    """A tick label: 1500 as 1.5k, 2000000 as 2M, 0.00005 as such (not 5e-05)."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:g}{suffix}"
    if 0 < abs(value) < SMALL:
        return f"{value:.10f}".rstrip("0")
    return f"{value:.4g}"


def y_axis(area: Area, values: Sequence[float], *, label: str) -> list[str]:
    """Horizontal grid lines with their values, and the axis label above them."""
    elements = [
        f'<line class="grid" x1="{area.left:.1f}" x2="{area.left + area.width:.1f}" '
        f'y1="{area.y(v):.1f}" y2="{area.y(v):.1f}"/>'
        f'<text class="tick" x="{area.left - 6:.1f}" y="{area.y(v) + 4:.1f}" '
        f'text-anchor="end">{html.escape(compact(v))}</text>'
        for v in values
    ]
    elements.append(
        f'<text class="axis-label" x="{area.left:.1f}" y="{area.top - 8:.1f}">'
        f"{html.escape(label)}</text>"
    )
    return elements


def x_axis(area: Area, values: Sequence[float], *, label: str) -> list[str]:
    """The base line, tick marks with their values, and the axis label at the right."""
    elements = [base_line(area)]
    elements += [
        f'<text class="tick" x="{area.x(v):.1f}" y="{area.bottom + 16:.1f}" '
        f'text-anchor="middle">{html.escape(compact(v))}</text>'
        for v in values
        if area.x_min <= v <= area.x_max
    ]
    elements.append(
        f'<text class="axis-label" x="{area.left + area.width:.1f}" y="{area.bottom + 32:.1f}" '
        f'text-anchor="end">{html.escape(label)}</text>'
    )
    return elements


def line(area: Area, points: Sequence[tuple[float, float | None]], css_class: str) -> list[str]:
    """A line through ``points``, broken where y is None; a lone point is a dot."""
    segments: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if y is None:
            segments.append([])
        else:
            segments[-1].append((area.x(x), area.y(y)))
    elements = []
    for segment in filter(None, segments):
        if len(segment) == 1:
            (x, y), = segment  # fmt: skip
            elements.append(f'<circle class="dot {css_class}" cx="{x:.1f}" cy="{y:.1f}" r="2"/>')
        else:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in segment)
            elements.append(f'<polyline class="line {css_class}" points="{path}"/>')
    return elements


def band(area: Area, start: float, end: float, *, css_class: str, label: str, row: int) -> str:
    """A shaded vertical band over [start, end] with its label on text row ``row``."""
    left = area.x(max(start, area.x_min))
    right = max(area.x(min(end, area.x_max)), left + 1)
    text = html.escape(label)
    return (
        f'<rect class="{html.escape(css_class)}" x="{left:.1f}" y="{area.top:.1f}" '
        f'width="{right - left:.1f}" height="{area.height:.1f}"><title>{text}</title></rect>'
        f'<text class="band-label" x="{left + 3:.1f}" y="{area.top + 12 + 12 * row:.1f}">'
        f"{text}</text>"
    )


def bars(
    area: Area,
    groups: Sequence[str],
    series: Sequence[Sequence[float | None]],
    *,
    first_colour: int = 0,
) -> list[str]:
    """Grouped bars: one group per name in ``groups``, one bar per series.

    Series ``i`` has the colour class ``c<first_colour + i>``.
    A None value draws no bar but keeps its place, marked "n/a"; each bar is labelled with
    its value.
    """
    group_width = area.width / max(len(groups), 1)
    bar_width = group_width * 0.8 / max(len(series), 1)
    elements = []
    for g, name in enumerate(groups):
        start = area.left + g * group_width + group_width * 0.1
        for s, values in enumerate(series):
            value, x = values[g], start + s * bar_width
            if value is None:
                elements.append(
                    f'<text class="value" x="{x + bar_width / 2:.1f}" y="{area.bottom - 3:.1f}" '
                    'text-anchor="middle">n/a</text>'
                )
                continue
            top, text = area.y(value), html.escape(compact(value))
            elements.append(
                f'<rect class="bar c{first_colour + s}" x="{x:.1f}" y="{top:.1f}" '
                f'width="{bar_width:.1f}" height="{area.bottom - top:.1f}">'
                f"<title>{text}</title></rect>"
                f'<text class="value" x="{x + bar_width / 2:.1f}" y="{top - 3:.1f}" '
                f'text-anchor="middle">{text}</text>'
            )
        elements.append(
            f'<text class="tick" x="{start + group_width * 0.4:.1f}" y="{area.bottom + 16:.1f}" '
            f'text-anchor="middle"><title>{html.escape(name)}</title>'
            f"{html.escape(shortened(name))}</text>"
        )
    elements.append(base_line(area))
    return elements


def base_line(area: Area) -> str:
    """The line of y = 0."""
    return (
        f'<line class="axis" x1="{area.left:.1f}" x2="{area.left + area.width:.1f}" '
        f'y1="{area.bottom:.1f}" y2="{area.bottom:.1f}"/>'
    )


def shortened(name: str) -> str:
    """A label short enough to sit under a bar group."""
    return name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "…"


def legend(x: float, y: float, names: Sequence[str], *, first_colour: int = 0) -> list[str]:
    """A row of colour swatches (classes ``c<first_colour>``...) with their names, from (x, y)."""
    elements = []
    for index, name in enumerate(names, start=first_colour):
        elements.append(
            f'<rect class="swatch c{index}" x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10"/>'
            f'<text class="legend" x="{x + 14:.1f}" y="{y:.1f}">{html.escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
    return elements


def legend_column(
    x: float, y: float, entries: Sequence[tuple[str, str]], *, row_height: float = 14
) -> list[str]:
    """A column of line samples, each with its CSS classes, and their names, from (x, y) down."""
    elements = []
    for index, (name, css_class) in enumerate(entries):
        row = y + index * row_height
        elements.append(
            f'<line class="line {html.escape(css_class)}" x1="{x:.1f}" y1="{row - 4:.1f}" '
            f'x2="{x + 18:.1f}" y2="{row - 4:.1f}"/>'
            f'<text class="legend" x="{x + 24:.1f}" y="{row:.1f}">{html.escape(name)}</text>'
        )
    return elements
