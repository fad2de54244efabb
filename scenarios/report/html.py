"""The report as one self-contained HTML page: verdict, checks, charts and tables.

Rendered from the ``Report`` only. The page loads nothing: the CSS sits in a
``<style>`` block, the charts are inline SVG (see ``charts`` and ``timeline_charts``), there is
no script. Every
text from the report passes through ``html.escape``.
"""

from __future__ import annotations

from html import escape

from .charts import latency_chart, rate_chart, spend_chart, upstream_chart
from .record import REPORT_SCHEMA_VERSION, Report
from .slowest_chart import slowest_chart
from .slowest_views import slowest_views
from .timeline_charts import client_signals_chart, model_calls_chart, provider_calls_chart
from .views import (
    NOT_APPLICABLE_TEXT,
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


VERDICT_CLASSES = {"PASS": "pass", "FAIL": "fail", NOT_APPLICABLE_TEXT: "not-applicable"}
CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2329;
       margin: 0 auto; max-width: 1100px; padding: 0 16px 32px; }
header { border-left: 8px solid #8a939c; padding: 8px 16px; margin: 16px 0; background: #f4f6f8; }
header.pass { border-color: #1a7f37; } header.fail { border-color: #cf222e; }
h1 { margin: 0; font-size: 22px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.verdict { font-weight: 700; font-size: 18px; margin: 4px 0; }
.pass .verdict, td.pass { color: #1a7f37; } .fail .verdict, td.fail { color: #cf222e; }
.unknown .verdict, td.unknown { color: #9a6700; } td.not-applicable { color: #57606a; }
td.pass, td.fail, td.unknown, td.not-applicable { font-weight: 700; }
section { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f6f8; }
.note, .no-data, .caption { color: #57606a; font-style: italic; }
.no-data { border: 1px dashed #d0d7de; padding: 24px; text-align: center; max-width: 720px; }
svg.chart { display: block; max-width: 100%; height: auto; font-size: 11px; }
.grid { stroke: #eaeef2; } .axis { stroke: #57606a; }
.tick, .value, .legend { fill: #57606a; } .axis-label { fill: #1d2329; font-weight: 600; }
.fault { fill: #cf222e; fill-opacity: 0.12; stroke: #cf222e; stroke-opacity: 0.4; }
.band-label { fill: #a40e26; font-size: 10px; }
polyline.line { fill: none; stroke-width: 1.6; }
.c0 { fill: #0969da; stroke: #0969da; } .c1 { fill: #bc4c00; stroke: #bc4c00; }
.c2 { fill: #8250df; stroke: #8250df; } .c3 { fill: #1a7f37; stroke: #1a7f37; }
.c4 { fill: #bf3989; stroke: #bf3989; } .c5 { fill: #4d5a66; stroke: #4d5a66; }
.c6 { fill: #a0aab4; stroke: #a0aab4; } .c7 { fill: #d4a72c; stroke: #d4a72c; }
line.line { stroke-width: 2; }
.s-429 { stroke-dasharray: 7 3; } .s-5xx { stroke-dasharray: 2 3; }
.s-other { stroke-dasharray: 9 3 2 3; }
rect.bar, rect.swatch { stroke: none; }
footer { margin-top: 32px; color: #57606a; font-size: 12px; }
"""


def render_html(report: Report) -> str:
    """The whole report as one HTML page that opens offline."""
    name = report.scenario.name
    verdict = verdict_text(report)
    description = report.scenario.description
    header = [
        f'<header class="{VERDICT_CLASSES.get(verdict, "unknown")}">',
        f"<h1>{escape(name)}</h1>",
        f'<p class="verdict">{escape(verdict)}</p>',
        f"<p>{escape(description)}</p>" if description else "",
        f'<p class="run">{escape(run_line(report))}</p>',
        "</header>",
    ]
    legend = not_applicable_line(report)
    files = target_config(report)
    checks = table(checks_view(report))
    if legend:
        checks += f'\n<p class="note">{escape(legend)}</p>'
    sections = [
        section("Checks", checks),
        section("Latency over time", latency_chart(report)),
        section("Requests over time", rate_chart(report)),
        section(
            "What the gateway did upstream (provider ground truth)",
            "\n".join(
                (
                    provider_calls_chart(report),
                    model_calls_chart(report),
                    client_signals_chart(report),
                )
            ),
        ),
        section("Tokens and cost (provider ground truth)", spend_chart(report)),
        section("Upstream calls vs the oracle minimum", upstream_chart(report)),
        *_slowest_sections(report),
        *(section(view.title, table(view)) for view in detail_views(report)),
        *([section(TARGET_CONFIG_TITLE, config_files(files))] if files else []),
    ]
    footer = (
        f"<footer><p>{escape(testbed_line(report))}</p>"
        f"<p>Report schema version {REPORT_SCHEMA_VERSION}.</p></footer>"
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            '<head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(name)}: {escape(verdict)}</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            *header,
            "<main>",
            *sections,
            "</main>",
            footer,
            "</body>",
            "</html>",
            "",
        ]
    )


def _slowest_sections(report: Report) -> list[str]:
    """A traced run's slowest requests: the chart of their parts, then the tables."""
    views = slowest_views(report)
    if not views:
        return []
    breakdown, spans = views
    return [
        section(breakdown.title, slowest_chart(report) + "\n" + table(breakdown)),
        section(spans.title, table(spans)),
    ]


def config_files(files: list[tuple[str, str]]) -> str:
    """Each generated configuration file, named, as preformatted text."""
    return "\n".join(
        f"<p><code>{escape(name)}</code></p>\n<pre>{escape(content)}</pre>"
        for name, content in files
    )


def section(title: str, body: str) -> str:
    """A titled section."""
    return f"<section><h2>{escape(title)}</h2>\n{body}\n</section>"


def table(view: TableView) -> str:
    """An HTML table, or the view's note when it has no rows; verdict cells are coloured."""
    if not view.rows:
        return f'<p class="note">{escape(view.note)}</p>'
    head = "".join(f"<th>{escape(header)}</th>" for header in view.headers)
    body = "\n".join(
        "<tr>" + "".join(cell(text, view.headers[i]) for i, text in enumerate(row)) + "</tr>"
        for row in view.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"


def cell(text: str, header: str) -> str:
    """One table cell; a verdict is classed for its colour."""
    if header == "Verdict":
        css = VERDICT_CLASSES.get(text, "unknown")
        return f'<td class="{css}">{escape(text)}</td>'
    return f"<td>{escape(text)}</td>"
