"""The demo's table as Markdown, as a small offline HTML page, and as JSON.

The table has a column per target: the baseline's figure, then for each other target its
figure, its change against the baseline and whether it meets the case study's target. Below
it: the notes, then what each target was (kind, name, version) with a link to its report, or
why it did not run.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from .demo import Cell, Column, Row


MET = {True: "yes", False: "NO", None: "unknown"}
NOT_RUN = "not run"
TARGETS_HEADING = "Targets (every change is measured against the first, the baseline):"


def figure(value: float, unit: str) -> str:
    """A value for the table, in its unit."""
    if math.isnan(value):
        return "—"
    if unit == "ms":
        return f"{value:,.0f} ms"
    if unit == "fraction":
        return f"{value:.2%}"
    if unit == "USD":
        return f"${value:,.4f}"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:,.0f} {unit}"


def markdown(
    columns: Sequence[Column],
    rows: Sequence[Row],
    *,
    title: str,
    notes: Sequence[str],
    links: Mapping[str, str],
) -> str:
    """A Markdown table with a title, the notes and the targets below."""
    baseline, *others = columns
    header = ["metric", "target", baseline.label]
    header += [text for c in others for text in (c.label, "change", "met")]
    align = ["---", "---", "---:", *(["---:", "---", "---"] * len(others))]
    lines = [f"## {title}", "", _md_row(header), "|" + "|".join(align) + "|"]
    for r in rows:
        cells = [r.metric, r.target, figure(r.baseline, r.unit)]
        cells += [text for c in others for text in _texts(r.cells[c.label], r.unit, c)]
        lines.append(_md_row(cells))
    lines.append("")
    lines.extend(f"- {note}" for note in notes)
    lines += ["", TARGETS_HEADING, ""]
    for c in columns:
        href = links.get(c.label)
        report = f"; report: [{href}]({href})" if href else ""
        lines.append(f"- {c.label}: {c.about}{report}")
    return "\n".join(lines) + "\n"


def page(
    columns: Sequence[Column],
    rows: Sequence[Row],
    *,
    title: str,
    notes: Sequence[str],
    links: Mapping[str, str],
) -> str:
    """A self-contained HTML page with the table, the notes and links to every run's report."""
    baseline, *others = columns
    e = html.escape
    head = (
        f"<tr><th rowspan='2'>metric</th><th rowspan='2'>target</th>"
        f"<th rowspan='2'>{e(baseline.label)}</th>"
        + "".join(f"<th colspan='3'>{e(c.label)}</th>" for c in others)
        + "</tr><tr>"
        + "<th>figure</th><th>change</th><th>met</th>" * len(others)
        + "</tr>"
    )
    body = "".join(
        f"<tr><td>{e(r.metric)}</td><td>{e(r.target)}</td>"
        f"<td class='num'>{e(figure(r.baseline, r.unit))}</td>"
        + "".join(_html_cells(r.cells[c.label], r.unit, c) for c in others)
        + "</tr>"
        for r in rows
    )
    items = "".join(f"<li>{e(n)}</li>" for n in notes)
    targets = "".join(
        f"<li>{e(c.label)}: {e(c.about)}"
        + (f"; <a href='{e(links[c.label])}'>report</a>" if c.label in links else "")
        + "</li>"
        for c in columns
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{e(title)}</title><style>"
        "body{font:15px system-ui,sans-serif;margin:2em;color:#222}"
        "table{border-collapse:collapse}td,th{padding:.3em .8em;border-bottom:1px solid #ddd}"
        "td.num{text-align:right}td.met{color:#176c2a}"
        "td.missed{color:#b00020;font-weight:bold}td.unknown,td.not-run{color:#8a6d00}"
        "ul.targets li{white-space:pre-wrap}"
        "</style></head><body>"
        f"<h1>{e(title)}</h1><table>{head}{body}</table><ul>{items}</ul>"
        f"<p>{e(TARGETS_HEADING)}</p><ul class='targets'>{targets}</ul></body></html>\n"
    )


def document(columns: Sequence[Column], rows: Sequence[Row], **facts: Any) -> dict[str, Any]:
    """The JSON form: the targets (the first the baseline), the rows and the demo's facts."""
    return {
        "schema_version": 2,
        "baseline": columns[0].label,
        "targets": [c.to_dict() for c in columns],
        "rows": [r.to_dict() for r in rows],
        **facts,
    }


def _texts(cell: Cell, unit: str, column: Column) -> tuple[str, str, str]:
    met = MET[cell.met] if column.run is not None else NOT_RUN
    return figure(cell.value, unit), cell.change, met


def _html_cells(cell: Cell, unit: str, column: Column) -> str:
    value, change, met = (html.escape(text) for text in _texts(cell, unit, column))
    style = {True: "met", False: "missed", None: "unknown"}[cell.met]
    style = style if column.run is not None else "not-run"
    return f"<td class='num'>{value}</td><td>{change}</td><td class='{style}'>{met}</td>"


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"
