"""The report as Markdown, readable as a pull-request comment.

Rendered from the ``Report`` only. Cell text is HTML-escaped (Markdown viewers render
inline HTML) and pipes are escaped so that a name cannot break a table.
"""

from __future__ import annotations

import html

from .record import Report
from .slowest_views import slowest_views
from .views import (
    TARGET_CONFIG_TITLE,
    TableView,
    checks_view,
    detail_views,
    not_applicable_line,
    run_line,
    target_config,
    testbed_line,
    verdict_text,
)


def render_markdown(report: Report) -> str:
    """The whole report: title with the verdict, checks, figures, tables and testbed."""
    scenario = report.scenario
    lines = [f"# {text(scenario.name)}: {verdict_text(report)}", ""]
    if scenario.description:
        lines += [text(scenario.description), ""]
    lines += [text(run_line(report)), ""]
    lines += table(checks_view(report))
    if legend := not_applicable_line(report):
        lines += [f"_{text(legend)}_", ""]
    for view in [*slowest_views(report), *detail_views(report)]:
        lines += table(view)
    lines += config_blocks(report)
    lines.append(text(testbed_line(report)))
    return "\n".join(lines) + "\n"


def config_blocks(report: Report) -> list[str]:
    """The target's generated configuration, one fenced block per file."""
    files = target_config(report)
    if not files:
        return []
    lines = [f"## {TARGET_CONFIG_TITLE}", ""]
    for name, content in files:
        fence = "~~~~" if "```" in content else "```"
        lines += [f"`{text(name)}`:", "", fence, content.rstrip("\n"), fence, ""]
    return lines


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
