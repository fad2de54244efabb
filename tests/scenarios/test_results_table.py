"""The checks table in a CI log: details are never cut into narrow pieces."""

import io

import pytest
from rich.console import Console

from scenarios.checks import CheckResult
from scenarios.cli import run_command
from scenarios.log_table import log_table


LONG_DETAILS = (
    "latency p95 over 4,312 requests during faults (10.0 s to 25.0 s) = 912 ms > 800 ms; "
    "the slowest tenant was noisy with 2,001 requests"
)


def _printed(monkeypatch: pytest.MonkeyPatch, *, terminal: bool, width: int) -> str:
    """What ``print_results`` writes for one failed check with long details and one passed."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=terminal, width=width, color_system=None)
    results = [
        CheckResult("p95_during_outage", "latency", False, 912.0, 800.0, "ms", LONG_DETAILS),
        CheckResult("errors", "error_rate", True, 0.001, 0.01, "", ""),
    ]
    monkeypatch.setattr(run_command, "console", console)
    run_command.print_results(results)
    return buffer.getvalue()


def test_without_a_terminal_details_are_one_line_below_their_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = _printed(monkeypatch, terminal=False, width=80)
    lines = text.splitlines()
    assert lines[0].split() == ["check", "verdict", "observed", "limit"]
    assert lines[1].split() == ["p95_during_outage", "FAIL", "912", "ms", "800", "ms"]
    assert lines[2] == "    " + LONG_DETAILS
    assert lines[3].split() == ["errors", "PASS", "0.001", "0.01"]
    assert lines[4] == "verdict: fail"


def test_in_a_terminal_details_stay_in_their_column(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _printed(monkeypatch, terminal=True, width=300)
    assert "details" in text.splitlines()[0]
    assert LONG_DETAILS in text.splitlines()[1]


def test_log_table_pads_columns_to_their_widest_cell() -> None:
    lines = log_table(("a", "bb"), [("long cell", "x"), ("y", "z")], ["", "note"])
    assert lines == ["a          bb", "long cell  x", "y          z", "    note"]
