"""The report as Markdown, readable as a pull-request comment.

Rendered from the report document only. Cell text is HTML-escaped (Markdown viewers render
inline HTML) and pipes are escaped so that a name cannot break a table.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from .views import TableView, checks_view, detail_views, run_line, testbed_line, verdict_text


def render_markdown(report: Mapping[str, Any]) -> str:
    """The whole report: title with the verdict, checks, figures, tables and testbed."""
    scenario: Mapping[str, Any] = report.get("scenario") or {}
    lines = [f"# {text(str(scenario.get('name', 'scenario')))}: {verdict_text(report)}", ""]
    if scenario.get("description"):
        lines += [text(str(scenario["description"])), ""]
    lines += [text(run_line(report)), ""]
    for view in (checks_view(report), *detail_views(report)):
        lines += table(view)
    lines.append(text(testbed_line(report)))
    return "\n".join(lines) + "\n"


def table(view: TableView) -> list[str]:
    """A section with one Markdown table, or its note when it has no rows."""
    lines = [f"## {text(view.title)}", ""]
    if not view.rows:
        return [*lines, f"_{text(view.note)}_", ""]
    lines.append(row(view.headers))
    lines.append("|" + "|".join("---" for _ in view.headers) + "|")
    lines += [row(cells) for cells in view.rows]
    return [*lines, ""]


def row(cells: tuple[str, ...]) -> str:
    """One table row."""
    return "| " + " | ".join(text(cell).replace("|", "\\|") for cell in cells) + " |"


def text(value: str) -> str:
    """Text safe to put in Markdown: HTML-escaped, on one line."""
    return html.escape(" ".join(value.split()), quote=False)
