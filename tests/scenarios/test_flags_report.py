"""A model flag flipped on the timeline shows in the report as calls moving between models."""

import re
from dataclasses import replace

from op_support import answered, table_of
from run_support import fault, stored_run
from timeline_support import series, with_timeline

from scenarios.report import Report, build_report, render_html, render_markdown


FLIP = with_timeline(
    series([4, 4, 4, 0, 0, 0, 4, 4], model="gpt-4o-mini"),
    series([0, 0, 0, 3, 3, 3, 0, 0], model="gpt-4o"),
    series([0, 0, 0, 1, 1, 1, 0, 0], model="gpt-4o", status="429"),
)
"""From 3 to 6 s a flag serves gpt-4o instead of gpt-4o-mini; some of its calls get 429s."""


def flipped_report() -> Report:
    window = replace(fault(3.0, 6.0, kind="flag"), name="new model")
    rows = [answered(float(t), 0.1) for t in range(8)]
    run = stored_run(table_of(rows), duration_s=8.0, faults=(window,), provider=FLIP)
    return build_report(run, [])


def test_the_markdown_counts_each_models_calls_whatever_their_status() -> None:
    markdown = render_markdown(flipped_report())
    [mini] = [line for line in markdown.splitlines() if "all statuses: gpt-4o-mini" in line]
    [big] = [line for line in markdown.splitlines() if "all statuses: gpt-4o |" in line]
    cells = [cell.strip() for cell in big.split("|")]
    assert cells[2:6] == ["12", "4 at 3 s", "0", "4"]  # total, peak, outside, during the flag
    assert [cell.strip() for cell in mini.split("|")][4:6] == ["4", "0"]


def test_the_html_charts_calls_per_model_with_the_flag_window_shaded() -> None:
    page = render_html(flipped_report())
    assert re.search(r"Provider calls per second by model(?! and)", page)
    assert "fault-flag" in page
    assert "new model" in page
