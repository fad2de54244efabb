"""Load progress: a plain line at each interval without a terminal, never ``nan``."""

import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console

from benchmarks.engine import LiveCounts
from scenarios.cli import run_command
from scenarios.progress import DEFAULT_INTERVAL_S, LoadProgress, interval_from, status_line
from scenarios.runner import RunOptions


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _log() -> tuple[Console, io.StringIO]:
    """A console that is not a terminal, and what it wrote."""
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=False, width=80), buffer


def _counts(sent: int, *, latencies_s: tuple[float, ...] = ()) -> LiveCounts:
    counts = LiveCounts(scheduled=100, sent=sent, done=len(latencies_s))
    for latency_s in latencies_s:
        counts.latency.record(latency_s)
    return counts


def test_before_any_request_ends_p95_reads_a_dash_not_nan() -> None:
    line = status_line(_counts(0), 0.0)
    assert "nan" not in line.lower()
    assert "p95 —" in line


def test_the_line_has_elapsed_sent_failed_unknown_and_p95() -> None:
    counts = _counts(40, latencies_s=(0.2,) * 30)
    counts.failed, counts.unknown = 2, 1
    line = status_line(counts, 12.34)
    assert "12.3 s" in line
    assert "sent 40/100" in line
    assert "failed 2" in line
    assert "unknown 1" in line
    assert "p95 200 ms" in line


def test_once_all_are_sent_the_line_says_how_many_answers_are_awaited() -> None:
    counts = LiveCounts(scheduled=10, sent=10, done=7)
    assert "waiting for 3" in status_line(counts, 1.0)


def test_without_a_terminal_a_line_is_printed_at_each_interval() -> None:
    (out, buffer), clock = _log(), FakeClock()
    with LoadProgress(out, "load", interval_s=5.0, clock=clock) as progress:
        for tick in range(1, 25):  # 12 s of callbacks every 0.5 s
            clock.now += 0.5
            progress.show(_counts(tick))
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("load: 5.0 s · sent 10/100")
    assert lines[1].startswith("load: 10.0 s · sent 20/100")
    assert all("nan" not in line.lower() for line in lines)


def test_in_a_terminal_the_line_is_drawn_live() -> None:
    buffer, clock = io.StringIO(), FakeClock()
    out = Console(file=buffer, force_terminal=True, width=120)
    with LoadProgress(out, "load", interval_s=0.0, clock=clock) as progress:
        clock.now += 10
        progress.show(_counts(5))
    assert "load: 10.0 s · sent 5/100" in buffer.getvalue()


@pytest.mark.parametrize(
    ("environ", "expected"),
    [({}, DEFAULT_INTERVAL_S), ({"MELTPROOF_PROGRESS_INTERVAL_S": "0.5"}, 0.5)],
)
def test_the_interval_comes_from_the_environment(environ: dict[str, str], expected: float) -> None:
    assert interval_from(environ) == expected


@pytest.mark.parametrize("text", ["soon", "0", "-1", "nan"])
def test_a_bad_interval_warns_and_falls_back(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert interval_from({"MELTPROOF_PROGRESS_INTERVAL_S": text}) == DEFAULT_INTERVAL_S
    assert "MELTPROOF_PROGRESS_INTERVAL_S" in capsys.readouterr().err


def test_a_scenario_run_prints_progress_without_a_terminal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out, buffer = _log()

    def fake_run_scenario(_spec: Any, _options: Any, *, say: Any, progress: Any) -> str:
        say("load starts")
        progress(_counts(0))  # nothing has ended yet
        return "outcome"

    monkeypatch.setattr(run_command, "console", out)
    monkeypatch.setattr(run_command, "run_scenario", fake_run_scenario)
    monkeypatch.setenv("MELTPROOF_PROGRESS_INTERVAL_S", "1e-9")
    spec: Any = SimpleNamespace(name="peak")
    assert run_command.run_with_progress(spec, RunOptions(tmp_path)) == "outcome"
    text = buffer.getvalue()
    assert "load starts" in text
    assert "peak:" in text
    assert "sent 0/100" in text
    assert "nan" not in text.lower()
