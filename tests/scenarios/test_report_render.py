"""Markdown and HTML renderings of the report, and the files written next to a run."""

import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

from op_support import table_of
from run_support import stored_run
from test_report_document import PROVIDER_STATS, sample_results, sample_run
from timeline_support import series, with_timeline

from scenarios.report import build_report, render_html, render_markdown, write_reports


VOID_TAGS = {"meta", "br", "hr", "img", "input", "link"}
CHARTS = 7


class StrictParser(HTMLParser):
    """Records elements and fails on tags that are not closed in order."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag not in VOID_TAGS:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.open[-1:]}")
        else:
            self.open.pop()


def parse(page: str) -> StrictParser:
    parser = StrictParser()
    parser.feed(page)
    parser.close()
    assert parser.errors == []
    assert parser.open == []
    return parser


def svgs(page: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL)


def test_markdown_has_the_verdict_and_the_checks_table() -> None:
    markdown = render_markdown(build_report(sample_run(), sample_results()))
    assert markdown.startswith("# provider brownout: FAIL\n")
    assert "| Check | Kind | Verdict | Observed | Limit | Details |" in markdown
    assert "| p99 | latency | FAIL | 2,000 ms | 1,000 ms | p99 over \\| the budget |" in markdown
    assert "| errors | error_rate | PASS | 0.25 | 0.5 |  |" in markdown
    assert "| recovery | recovery | UNKNOWN | — | — | no data |" in markdown


def test_markdown_has_the_figures_tables_and_fault_log() -> None:
    markdown = render_markdown(build_report(sample_run(), []))
    assert "# provider brownout: UNKNOWN" in markdown
    assert "_No checks ran._" in markdown
    assert "| Amplification (provider calls / oracle minimum) | 3x |" in markdown
    assert "| globex | 5 | 2 | 1 | 1 | 25.0% | 500 ms | 2,000 ms | 2,000 ms |" in markdown
    assert "| http-error | http-error | provider | 6 s | 6 s | never healed | — |  |" in markdown
    assert "| Error rate | 25.0% |" in markdown
    assert "Testbed: cpu_count 2, python 3.11." in markdown


def test_html_parses_and_has_one_svg_per_chart() -> None:
    run = replace(sample_run(), provider=with_timeline(series([3, 2]), **PROVIDER_STATS))
    page = render_html(build_report(run, sample_results()))
    elements = parse(page).elements
    assert sum(tag == "svg" for tag, _ in elements) == CHARTS
    assert '<header class="fail">' in page
    assert '<td class="fail">FAIL</td>' in page


def test_each_fault_window_is_shaded_on_both_time_charts() -> None:
    run = sample_run()
    latency, rate, *_ = svgs(render_html(build_report(run, [])))
    for chart in (latency, rate):
        bands = re.findall(r'<rect class="(fault [^"]*)"', chart)
        assert bands == ["fault fault-latency", "fault fault-http-error"]
        assert ">http-error (never healed)</text>" in chart


def test_html_loads_nothing_from_outside() -> None:
    page = render_html(build_report(sample_run(), sample_results()))
    elements = parse(page).elements
    for tag, attrs in elements:
        assert tag not in {"script", "link", "img", "iframe", "object"}
        for name in ("src", "href", "xlink:href"):
            value = attrs.get(name) or ""
            assert not value.startswith(("http://", "https://", "//")), (tag, name, value)
    assert "url(" not in page
    assert "@import" not in page


def test_html_escapes_strings_from_the_report() -> None:
    name = "<script>alert(1)</script>"
    page = render_html(build_report(sample_run(scenario_name=name), sample_results()))
    assert name not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not any(tag == "script" for tag, _ in parse(page).elements)


def test_empty_series_and_no_provider_render_notes_instead_of_charts() -> None:
    page = render_html(build_report(stored_run(table_of([])), []))
    parse(page)
    assert svgs(page) == []  # no requests, no provider, no oracle: nothing to draw
    notes = re.findall(r'<p class="no-data">(.*?)</p>', page)
    assert len(notes) == CHARTS
    assert "no data" in notes[0]
    assert "No provider timeline" in notes[2]
    assert "No provider timeline" in notes[3]  # calls per model
    assert "No provider ground truth" in notes[5]


def test_a_window_without_ended_requests_breaks_the_latency_line() -> None:
    report = build_report(sample_run(), [])
    windows = list(report.timeseries)
    windows[3] = replace(windows[3], p50_s=None, p95_s=None, p99_s=None)
    latency = svgs(render_html(replace(report, timeseries=tuple(windows))))[0]
    assert len(re.findall(r'<polyline class="line c0"', latency)) == 2


def test_write_reports_writes_the_three_renderings(tmp_path: Path) -> None:
    run = stored_run(table_of([]), path=tmp_path / "run")
    run.path.mkdir()
    paths = write_reports(run, sample_results())
    assert (paths.json, paths.markdown, paths.html) == (
        run.path / "report.json",
        run.path / "report.md",
        run.path / "report.html",
    )
    assert json.loads(paths.json.read_text()) == build_report(run, sample_results()).to_dict()
    assert paths.markdown.read_text().startswith("# hand-built: FAIL")
    assert paths.html.read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in run.path.iterdir()) == ["report.html", "report.json", "report.md"]


def test_write_reports_into_another_directory_replaces_old_reports(tmp_path: Path) -> None:
    (tmp_path / "report.md").write_text("old")
    paths = write_reports(sample_run(), [], tmp_path)
    assert paths.markdown.read_text().startswith("# provider brownout: UNKNOWN")
    assert len(list(tmp_path.iterdir())) == 3


def test_steady_state_probes_are_listed() -> None:
    run = replace(
        sample_run(),
        steady_state={
            "before": {
                "verdict": "pass",
                "checks": [{"name": "errors", "valid": True, "details": "0.00% <= 1.00%"}],
            },
            "after": {"verdict": "unknown", "checks": [], "shortfall": "fell behind"},
        },
    )
    markdown = render_markdown(build_report(run, []))
    assert "| before | PASS | errors: PASS (0.00% &lt;= 1.00%) |" in markdown
    assert "| after | UNKNOWN | fell behind |" in markdown
