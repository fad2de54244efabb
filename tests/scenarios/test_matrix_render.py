"""The matrix rendered: Markdown, HTML, console lines and JUnit, from the document alone."""

from dataclasses import replace
from pathlib import Path
from typing import Any

from lxml import etree
from run_support import counters, provider_stats
from test_matrix import FAILED, PASSED, outcome, slow_during_fault_run

from scenarios.ci_output import write_junit
from scenarios.matrix import Cell, Column, build_document, cell_of_outcome
from scenarios.matrix_render import cell_line, junit_suites, markdown, page


JUNIT_SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).parent / "data" / "junit.xsd")))
REFUSED = "fault 'slow redis' acts on the redis link, which the target does not use | <b>"


def a_document(root: Path, *, complete: bool = True) -> dict[str, Any]:
    """Scenario storm: a failed run with ground truth on naive, n/a on gw; scenario calm: a
    harness error on naive, and on gw a passed run or, when not ``complete``, none."""
    truth = provider_stats(
        models={"gpt-4o-mini": counters(requests=300, prompt_tokens=200_000)},
        total=counters(requests=300, prompt_tokens=200_000),
    )
    failed = outcome(slow_during_fault_run(provider=truth), root, [PASSED, FAILED])
    cells = {
        ("storm", "naive"): replace(cell_of_outcome(failed, root), elapsed_s=61.0),
        ("storm", "gw"): Cell("n/a", REFUSED),
        ("calm", "naive"): Cell("error", "StackError: redis did not start", elapsed_s=2.0),
    }
    if complete:
        cells["calm", "gw"] = Cell(
            "pass", figures=cells["storm", "naive"].figures, report="gw/calm/run/report.html"
        )
    return build_document(
        ["storm", "calm"],
        [Column("naive", "naive"), Column("gw", "my gw.yaml")],
        cells,
        command="meltproof matrix --targets 'naive,my gw.yaml'",
        testbed={
            "hostname": "ci-1",
            "cpu_count": 2,
            "load_average": {"start": [0.5, 0.25, 0.125], "end": [1.5, 1.0, 0.75]},
        },
        started_at=0.0,
        elapsed_s=125.0,
    )


def test_markdown_has_a_row_per_scenario_and_a_column_per_target(tmp_path: Path) -> None:
    text = markdown(a_document(tmp_path))
    lines = text.splitlines()
    assert lines[0] == "# Fault matrix: FAIL"
    assert "`meltproof matrix --targets 'naive,my gw.yaml'`" in lines
    assert "| scenario | naive | gw |" in lines
    [storm] = [line for line in lines if line.startswith("| storm |")]
    naive, gw = storm.removesuffix(" |").split(" | ")[1:]
    assert naive == (
        "**FAIL** (failed: p95)<br>p95 1,000 ms · errors 5.00%<br>"
        "3.00 calls/req · $0.000300/req<br>[report](naive/steady/run/report.html)"
    )
    assert gw == (
        "**n/a**: fault 'slow redis' acts on the redis link, which the target does not use "
        "\\| &lt;b&gt;"
    )
    [calm] = [line for line in lines if line.startswith("| calm |")]
    assert "**error**: StackError: redis did not start" in calm
    assert "[report](gw/calm/run/report.html)" in calm


def test_markdown_shows_versions_and_the_load_average(tmp_path: Path) -> None:
    text = markdown(a_document(tmp_path))
    assert "| gw | my gw.yaml | — | — | not run |" in text
    assert "| naive | naive | gateway | meltproof gateway (unknown) | meltproof " in text
    assert "- Machine: hostname ci-1, cpu_count 2." in text
    assert (
        "- Load average (1, 5, 15 min): 0.50, 0.25, 0.12 at the start, 1.50, 1.00, 0.75 at the end."
        in text
    )


def test_an_interrupted_matrix_says_so_and_marks_what_did_not_run(tmp_path: Path) -> None:
    document = a_document(tmp_path, complete=False)
    text = markdown(document)
    assert text.startswith("# Fault matrix: interrupted\n")
    assert "3 of 4 cells in 125 s" in text
    assert "interrupted, the rest did not run" in text
    assert "| calm | **error**: StackError: redis did not start | _not run_ |" in text
    assert '<td class="not-run">not run</td>' in page(document)


def test_the_page_escapes_text_and_links_reports_relatively(tmp_path: Path) -> None:
    html = page(a_document(tmp_path))
    assert "<title>Fault matrix: FAIL</title>" in html
    assert '<header class="fail">' in html
    assert '<a href="naive/steady/run/report.html">report</a>' in html
    assert "&lt;b&gt;" in html
    assert "<b>" not in html
    assert '<div class="na"><p class="verdict">n/a: fault' in html
    assert "Load average (1, 5, 15 min): 0.50, 0.25, 0.12 at the start" in html


def test_a_console_line_per_cell(tmp_path: Path) -> None:
    storm = a_document(tmp_path)["rows"][0]["cells"]
    assert cell_line(storm["naive"]) == (
        "FAIL (failed: p95) · p95 1,000 ms · errors 5.00% · 3.00 calls/req · $0.000300/req · "
        "report naive/steady/run/report.html"
    )
    assert cell_line(storm["gw"]).startswith("n/a: fault 'slow redis'")
    assert cell_line(None) == "not run"


def test_junit_has_a_suite_per_target_and_skips_what_was_not_applicable(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    write_junit(path, junit_suites(a_document(tmp_path, complete=False)))
    root = etree.parse(str(path))
    JUNIT_SCHEMA.assertValid(root)
    naive, gw = root.getroot().findall("testsuite")
    assert (naive.get("name"), naive.get("tests"), naive.get("failures"), naive.get("errors")) == (
        "naive", "2", "1", "1",
    )  # fmt: skip
    assert naive.get("time") == "63.000"
    storm = naive.find("testcase[@name='storm']/failure")
    assert storm.get("message") == "FAIL (failed: p95)"
    assert (gw.get("tests"), gw.get("skipped")) == ("1", "1")
    skipped = gw.find("testcase[@name='storm']/skipped")
    assert skipped.get("message").startswith("n/a: fault 'slow redis'")
