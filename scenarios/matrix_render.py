"""The fault matrix as Markdown (a pull-request comment, a job summary), as an offline HTML
page in the reports' look, as one line per cell for the console, and as JUnit suites.

Everything is rendered from the matrix document (``matrix.build_document``) alone. Links to
the runs' reports are relative, so the folder can be moved or published as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any
from urllib.parse import quote

from .checks.wording import count
from .ci_output import JUnitCase, JUnitSuite, Outcome
from .report.html import CSS, section
from .report.html import table as html_table
from .report.markdown import table as markdown_table
from .report.markdown import text
from .report.views import TableView


STATUS_TEXT = {"pass": "PASS", "fail": "FAIL", "unknown": "UNKNOWN", "n/a": "n/a", "error": "error"}
NOT_RUN = "not run"
LEGEND = (
    "Each cell: the verdict of the scenario's checks against that target; p95 latency of the "
    "requests that arrived while a fault acted (of the whole run when the scenario has no "
    "fault); error rate; provider calls per client request (upstream amplification) and "
    "provider cost per client request, from the simulated provider's ground truth. "
    "n/a: the scenario cannot run against that target; error: the harness failed, no verdict."
)
_JUNIT_OUTCOME: dict[str, Outcome] = {
    "pass": "passed", "fail": "failed", "unknown": "error", "error": "error", "n/a": "skipped",
}  # fmt: skip
_EXTRA_CSS = """
.matrix td { min-width: 160px; } .matrix p { margin: 0; } .matrix .verdict { font-size: 14px; }
.error .verdict { color: #9a6700; } .na, .not-run { color: #57606a; }
"""


def title(document: Mapping[str, Any]) -> str:
    """``Fault matrix: FAIL`` (or ``interrupted``, when cells are missing)."""
    verdict = str(document["verdict"]).upper() if document["complete"] else "interrupted"
    return f"Fault matrix: {verdict}"


def cell_name(label: str, scenario: str) -> str:
    """How progress lines and annotations name a cell: ``litellm x provider_429_storm``,
    with a multiplication sign."""
    return f"{label} \N{MULTIPLICATION SIGN} {scenario}"


def headline(cell: Mapping[str, Any] | None) -> str:
    """The cell's status and why: ``FAIL (failed: errors)``, ``n/a: <reason>``."""
    if cell is None:
        return NOT_RUN
    return STATUS_TEXT[cell["status"]] + _after_status(cell, cell["reason"])


def _after_status(cell: Mapping[str, Any], reason: str) -> str:
    """What follows the status: ``: <reason>`` (n/a, error), `` (<checks>)`` or nothing."""
    if not reason:
        return ""
    return f": {reason}" if cell["status"] in ("n/a", "error") else f" ({reason})"


def figure_lines(figures: Mapping[str, Any] | None) -> list[str]:
    """The headline figures, two to a line."""
    if figures is None:
        return []
    during = "" if figures["p95_window"] == "during_faults" else " (whole run)"
    return [
        f"p95{during} {_ms(figures['p95_s'])} · errors {_percent(figures['error_rate'])}",
        (
            f"{_ratio(figures['calls_per_request'])} calls/req · "
            f"{_usd(figures['cost_per_request_usd'])}/req"
        ),
    ]


def cell_line(cell: Mapping[str, Any] | None) -> str:
    """The cell on one line, for the console."""
    parts = [headline(cell), *figure_lines(cell and cell["figures"])]
    if cell and cell["report"]:
        parts.append(f"report {cell['report']}")
    return " · ".join(parts)


def markdown(document: Mapping[str, Any]) -> str:
    """The matrix, the legend, the targets' versions and the testbed."""
    labels = [target["label"] for target in document["targets"]]
    lines = [
        f"# {title(document)}",
        "",
        f"`{document['command']}`",
        "",
        text(_progress_line(document)),
        "",
        "| scenario | " + " | ".join(_md(label) for label in labels) + " |",
        "|---|" + "---|" * len(labels),
    ]
    for row in document["rows"]:
        cells = [_markdown_cell(row["cells"][label]) for label in labels]
        lines.append(f"| {_md(row['scenario'])} | " + " | ".join(cells) + " |")
    lines += ["", text(LEGEND), "", *markdown_table(_targets_view(document))]
    lines += ["## Testbed", "", *(f"- {text(line)}" for line in testbed_lines(document))]
    return "\n".join(lines) + "\n"


def page(document: Mapping[str, Any]) -> str:
    """The matrix as one self-contained HTML page (no script, nothing loaded)."""
    labels = [target["label"] for target in document["targets"]]
    head = "".join(f"<th>{escape(label)}</th>" for label in ["scenario", *labels])
    body = "\n".join(
        f"<tr><th>{escape(row['scenario'])}</th>"
        + "".join(_html_cell(row["cells"][label]) for label in labels)
        + "</tr>"
        for row in document["rows"]
    )
    verdict = str(document["verdict"]) if document["complete"] else "unknown"
    testbed = "".join(f"<p>{escape(line)}</p>" for line in testbed_lines(document))
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            '<head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title(document))}</title>",
            f"<style>{CSS}{_EXTRA_CSS}</style>",
            "</head>",
            "<body>",
            f'<header class="{escape(verdict)}"><h1>{escape(title(document))}</h1>',
            f"<p><code>{escape(document['command'])}</code></p>",
            f"<p>{escape(_progress_line(document))}</p></header>",
            "<main>",
            section(
                "Scenarios against targets",
                f'<table class="matrix"><thead><tr>{head}</tr></thead><tbody>\n{body}\n'
                f'</tbody></table><p class="caption">{escape(LEGEND)}</p>',
            ),
            section("Targets", html_table(_targets_view(document))),
            section("Testbed", testbed),
            "</main>",
            f"<footer><p>Matrix schema version {document['schema_version']}.</p></footer>",
            "</body>",
            "</html>",
            "",
        ]
    )


def junit_suites(document: Mapping[str, Any]) -> list[JUnitSuite]:
    """One suite per target, one case per scenario that ran (n/a: skipped; harness errors and
    undecided checks: errors)."""
    suites = []
    for target in document["targets"]:
        label = target["label"]
        cases = [
            _junit_case(row["scenario"], label, cell)
            for row in document["rows"]
            if (cell := row["cells"][label]) is not None
        ]
        suites.append(JUnitSuite(label, cases, sum(case.time_s for case in cases)))
    return suites


def testbed_lines(document: Mapping[str, Any]) -> list[str]:
    """The machine, and the load average at the start and at the end of the matrix."""
    testbed = dict(document["testbed"])
    load = testbed.pop("load_average", None) or {}
    machine = ", ".join(f"{key} {value}" for key, value in testbed.items()) or "not recorded"
    return [
        f"Machine: {machine}.",
        (
            f"Load average (1, 5, 15 min): {_loads(load.get('start'))} at the start, "
            f"{_loads(load.get('end'))} at the end."
        ),
    ]


def _junit_case(scenario: str, label: str, cell: Mapping[str, Any]) -> JUnitCase:
    outcome = _JUNIT_OUTCOME[cell["status"]]
    details = cell_line(cell)
    message = "" if outcome == "passed" else headline(cell)
    return JUnitCase(scenario, label, outcome, message, details, float(cell["elapsed_s"]))


def _targets_view(document: Mapping[str, Any]) -> TableView:
    rows = tuple(
        (t["label"], t["value"], t.get("kind", "—"), t.get("name", "—"), t["version"])
        for t in document["targets"]
    )
    return TableView("Targets", ("target", "given as", "kind", "name", "version"), rows)


def _progress_line(document: Mapping[str, Any]) -> str:
    done, planned = document["cells_done"], document["cells_planned"]
    ran = f"{done} of {count(planned, 'cell')}" if done < planned else count(planned, "cell")
    stopped = "; interrupted, the rest did not run" if not document["complete"] else ""
    return f"{ran} in {document['elapsed_s']:.0f} s, from {document['started_at']}{stopped}."


def _markdown_cell(cell: Mapping[str, Any] | None) -> str:
    if cell is None:
        return f"_{NOT_RUN}_"
    status = f"**{STATUS_TEXT[cell['status']]}**"
    lines = [status + _after_status(cell, _md(cell["reason"]))]
    lines += [_md(line) for line in figure_lines(cell["figures"])]
    if cell["report"]:
        lines.append(f"[report]({quote(cell['report'])})")
    return "<br>".join(lines)


def _html_cell(cell: Mapping[str, Any] | None) -> str:
    if cell is None:
        return f'<td class="not-run">{NOT_RUN}</td>'
    css = "na" if cell["status"] == "n/a" else cell["status"]
    lines = [f'<p class="verdict">{escape(headline(cell))}</p>']
    lines += [f"<p>{escape(line)}</p>" for line in figure_lines(cell["figures"])]
    if cell["report"]:
        lines.append(f'<p><a href="{escape(quote(cell["report"]))}">report</a></p>')
    return f'<td><div class="{css}">{"".join(lines)}</div></td>'


def _md(value: str) -> str:
    return text(value).replace("|", "\\|")


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1e3:,.0f} ms"


def _percent(fraction: float | None) -> str:
    return "—" if fraction is None else f"{fraction:.2%}"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _usd(value: float | None) -> str:
    return "—" if value is None else f"${value:.6f}"


def _loads(values: Sequence[float] | None) -> str:
    return ", ".join(f"{value:.2f}" for value in values) if values else "not recorded"
