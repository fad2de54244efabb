"""The demo's table as Markdown, as a small offline HTML page, and as JSON."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from .demo import Row


MET = {True: "yes", False: "NO", None: "unknown"}


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


def markdown(rows: Sequence[Row], *, title: str, notes: Sequence[str]) -> str:
    """A Markdown table with a title and notes below."""
    lines = [
        f"## {title}",
        "",
        "| metric | naive | hardened | change | target | met |",
        "|---|---:|---:|---|---|---|",
    ]
    lines.extend(
        f"| {r.metric} | {figure(r.naive, r.unit)} | {figure(r.hardened, r.unit)} "
        f"| {r.improvement} | {r.target} | {MET[r.met]} |"
        for r in rows
    )
    lines.append("")
    lines.extend(f"- {note}" for note in notes)
    return "\n".join(lines) + "\n"


def page(rows: Sequence[Row], *, title: str, notes: Sequence[str], links: dict[str, str]) -> str:
    """A self-contained HTML page with the table and links to both runs' reports."""
    body = "".join(
        f"<tr class='{'met' if r.met else 'missed'}'><td>{html.escape(r.metric)}</td>"
        f"<td>{html.escape(figure(r.naive, r.unit))}</td>"
        f"<td>{html.escape(figure(r.hardened, r.unit))}</td>"
        f"<td>{html.escape(r.improvement)}</td><td>{html.escape(r.target)}</td>"
        f"<td>{MET[r.met]}</td></tr>"
        for r in rows
    )
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    anchors = " · ".join(
        f"<a href='{html.escape(href)}'>{html.escape(label)}</a>" for label, href in links.items()
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>"
        "body{font:15px system-ui,sans-serif;margin:2em;color:#222}"
        "table{border-collapse:collapse}td,th{padding:.3em .8em;border-bottom:1px solid #ddd}"
        "td:nth-child(2),td:nth-child(3){text-align:right}"
        "tr.met td:last-child{color:#176c2a}tr.missed td:last-child{color:#b00020;font-weight:bold}"
        "</style></head><body>"
        f"<h1>{html.escape(title)}</h1><table><tr><th>metric</th><th>naive</th><th>hardened</th>"
        f"<th>change</th><th>target</th><th>met</th></tr>{body}</table>"
        f"<ul>{items}</ul><p>Full reports: {anchors}</p></body></html>\n"
    )


def document(rows: Sequence[Row], **facts: Any) -> dict[str, Any]:
    """The JSON form: the rows and the facts of the runs."""
    return {"schema_version": 1, "rows": [r.to_dict() for r in rows], **facts}
