"""``meltproof demo --targets``: a run per target, a column each, and the exit status."""

import json
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from op_support import answered, table_of
from run_support import provider_stats, stored_run

from benchmarks.op import CacheStatus
from scenarios.cli import demo_command
from scenarios.runner import HarnessError, RunOptions, SteadyStateError
from scenarios.schema import ScenarioSpec
from scenarios.stored_run import StoredRun


def _run(latency_s: float, *, hits: int, tokens: int, calls: int) -> StoredRun:
    rows = [
        answered(i * 0.1, latency_s, cache=CacheStatus.HIT if i < hits else CacheStatus.MISS)
        for i in range(100)
    ]
    total = {"requests": calls, "prompt_tokens": tokens, "completion_tokens": 0}
    stats = provider_stats(models={"gpt-4o-mini": total}, total=total)
    return stored_run(table_of(rows), provider=stats, oracle_min_calls=40)


RUNS = {
    "naive": replace(_run(3.0, hits=0, tokens=10_000, calls=100), gateway={"profile": "naive"}),
    "hardened": _run(0.5, hits=65, tokens=3_000, calls=41),
    "litellm": replace(
        _run(0.6, hits=64, tokens=3_200, calls=41),
        target={"kind": "peer", "name": "litellm", "version": "1.55.2"},
    ),
    "slow": _run(2.0, hits=0, tokens=10_000, calls=100),
}


@dataclass(frozen=True)
class _Outcome:
    run: StoredRun
    verdict: str = "pass"


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[tuple[ScenarioSpec, RunOptions]]:
    """Runs nothing: each target's run is one of RUNS; ``portkey`` cannot be installed and
    ``flaky`` fails its steady state."""
    calls: list[tuple[ScenarioSpec, RunOptions]] = []

    def run_with_progress(spec: ScenarioSpec, options: RunOptions) -> _Outcome:
        calls.append((spec, options))
        label = options.out_dir.name
        if label == "portkey":
            raise HarnessError("installing portkey failed: npm not found")
        if label == "flaky":
            raise SteadyStateError("p95 above 2 s before any fault")
        return _Outcome(RUNS[label])

    monkeypatch.setattr(demo_command, "run_with_progress", run_with_progress)
    monkeypatch.setattr(demo_command, "interrupt_on_signals", lambda: None)
    return calls


def _demo(out: Path, *args: str) -> Result:
    return CliRunner().invoke(demo_command.demo, ["--out", str(out), *args])


def _target_file(path: Path, name: str) -> str:
    file = path / f"{name}.yaml"
    file.write_text(
        f"target:\n  command:\n    name: {name}\n"
        "    argv: [my-gateway, --port, '{port}', --upstream, '{provider_url}']\n"
    )
    return str(file)


def test_the_default_compares_naive_with_hardened(
    tmp_path: Path, ran: list[tuple[ScenarioSpec, RunOptions]]
) -> None:
    result = _demo(tmp_path)
    assert result.exit_code == 0, result.output
    assert [(s.target.gateway.profile, o.out_dir) for s, o in ran if s.target.gateway] == [
        ("naive", tmp_path / "naive"),
        ("hardened", tmp_path / "hardened"),
    ]
    assert "## monday_peak: naive vs hardened" in result.output
    assert "| metric | target | naive | hardened | change | met |" in result.output
    assert (tmp_path / "demo.md").read_text() in result.output


def test_three_targets_write_a_column_each_with_versions_and_links(
    tmp_path: Path, ran: list[tuple[ScenarioSpec, RunOptions]]
) -> None:
    result = _demo(tmp_path, "--targets", "naive,hardened,litellm")
    assert result.exit_code == 0, result.output
    assert ran[2][0].target.peer == "litellm"
    text = (tmp_path / "demo.md").read_text()
    assert "| naive | hardened | change | met | litellm | change | met |" in text
    assert "- litellm: peer litellm, version 1.55.2; report: [litellm/run/report.html]" in text
    written = json.loads((tmp_path / "demo.json").read_text())
    assert written["baseline"] == "naive"
    assert [t["label"] for t in written["targets"]] == ["naive", "hardened", "litellm"]
    assert written["targets"][2]["target"]["version"] == "1.55.2"
    assert "href='hardened/run/report.html'" in (tmp_path / "demo.html").read_text()


def test_a_target_that_cannot_run_is_marked_and_the_demo_goes_on(
    tmp_path: Path, ran: list[tuple[ScenarioSpec, RunOptions]]
) -> None:
    result = _demo(tmp_path, "--targets", "naive,portkey,hardened")
    assert result.exit_code == 3
    assert len(ran) == 3
    text = (tmp_path / "demo.md").read_text()
    assert "- portkey: not run, harness error: HarnessError: installing portkey failed" in text
    assert "| — | — | not run | 500 ms | 6.0x lower | yes |" in text


@pytest.mark.parametrize(
    ("targets", "code"),
    [
        ("naive,hardened,litellm", 0),
        ("naive,hardened,slow", 1),
        ("naive,flaky,hardened", 1),
        ("naive,slow,portkey", 3),
        ("portkey,hardened", 3),
    ],
)
def test_the_exit_status_is_judged_on_every_target_after_the_baseline(
    tmp_path: Path, ran: list[tuple[ScenarioSpec, RunOptions]], targets: str, code: int
) -> None:
    names = targets.split(",")
    files = {n: _target_file(tmp_path, n) for n in ("slow", "flaky") if n in names}
    values = ",".join(files.get(n, n) for n in names)
    assert _demo(tmp_path / "out", "--targets", values).exit_code == code


def test_the_baseline_may_fail_without_deciding_for_the_others(
    tmp_path: Path, ran: list[tuple[ScenarioSpec, RunOptions]]
) -> None:
    flaky = _target_file(tmp_path, "flaky")
    result = _demo(tmp_path / "out", "--targets", f"{flaky},hardened")
    assert result.exit_code == 3
    assert "| P95 latency | >= 4.3x lower | — | 500 ms | — | unknown |" in result.output


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        ("naive", "at least one target"),
        ("naive,hardened,naive", "repeated: naive"),
    ],
)
def test_bad_targets_are_refused_before_anything_runs(
    tmp_path: Path, ran: list[tuple[ScenarioSpec, RunOptions]], targets: str, message: str
) -> None:
    result = _demo(tmp_path, "--targets", targets)
    assert result.exit_code == 2
    assert message in result.output
    assert ran == []


def test_a_missing_target_file_stops_the_demo_before_any_run(
    tmp_path: Path, ran: list[tuple[ScenarioSpec, RunOptions]]
) -> None:
    result = _demo(tmp_path, "--targets", "naive,nowhere.yaml")
    assert result.exit_code == 3
    assert ran == []
