"""A short scenario end to end through the CLI: stack, probe, load with a fault, checks,
reports; then the stored run checked again with stricter SLOs, without running it again."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scenarios.stored_run import read_run


SCENARIO = """\
name: short_latency
description: a provider latency fault in the middle of a short load
seed: 3
duration_s: 9
target:
  gateway: {profile: hardened}
  timeout_s: 5
provider:
  models:
    - {name: gpt-4o-mini, ttft_ms: 30, tpot_ms: 1, jitter: 0.05, slots: 64,
       output_tokens_min: 4, output_tokens_max: 8}
    - {name: local-llm, ttft_ms: 10, tpot_ms: 1, jitter: 0.05, slots: 16}
    - {name: text-embedding-3-small, kind: embedding, dimensions: 8, ttft_ms: 5}
workload:
  arrivals:
    shape: {kind: constant, rate_rps: 8}
  prompts: {templates: 20, entities: 500, skew: 0}
  max_tokens: 8
steady_state:
  duration_s: 2
faults:
  - name: slow provider
    at_s: 3
    for_s: 3
    fault: {kind: latency, link: provider, latency_ms: 300}
checks:
  errors:
    kind: error_rate
    max: 0.01
  answered:
    kind: all_answered
    deadline_s: 4
"""

STRICT = SCENARIO.replace(
    "checks:\n",
    "checks:\n  p50_during_fault:\n    kind: latency\n    percentile: 50\n"
    "    max_ms: 200\n    window: during_faults\n",
)


def meltproof(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scenarios", *args],
        cwd=cwd, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    workdir = tmp_path_factory.mktemp("scenario")
    (workdir / "short.yaml").write_text(SCENARIO)
    done = meltproof("run", "short.yaml", "--out", "runs", cwd=workdir)
    assert done.returncode == 0, done.stdout + done.stderr
    return workdir, workdir / "runs" / "short_latency" / "run"


def test_the_run_passes_and_writes_every_report(finished_run: tuple[Path, Path]) -> None:
    _, run_dir = finished_run
    for name in ("report.json", "report.md", "report.html", "ops.npz", "run.json"):
        assert (run_dir / name).is_file(), name
    report = json.loads((run_dir / "report.json").read_text())
    assert report["verdict"] == "pass"
    assert report["schema_version"] >= 1
    verdicts = {c["name"]: c["valid"] for c in report["checks"]}
    assert verdicts == {
        "errors": True,
        "answered": True,
        "steady_state_after": True,
        "faults_applied": True,
        "generator": True,
    }
    assert "<svg" in (run_dir / "report.html").read_text()


def test_the_fault_acted_when_the_log_says(finished_run: tuple[Path, Path]) -> None:
    _, run_dir = finished_run
    run = read_run(run_dir)
    [fault] = run.faults
    assert fault.error is None
    assert fault.ended_s is not None
    assert 2.9 < fault.started_s < 3.5
    assert 2.9 < fault.ended_s - fault.started_s < 3.5
    ops = run.table.ops
    latency = ops["end_s"] - ops["intended_s"]
    during = (ops["intended_s"] > fault.started_s + 0.2) & (ops["intended_s"] < fault.ended_s - 0.5)
    before = ops["intended_s"] < fault.started_s
    # every byte from the provider is held back 300 ms: misses take at least that much longer
    assert float(sorted(latency[during])[len(latency[during]) // 2]) > 0.25
    assert float(sorted(latency[before])[len(latency[before]) // 2]) < 0.2
    assert run.provider is not None
    assert run.provider["total"]["requests"] > 0


def test_checking_again_with_stricter_slos_fails_without_rerunning(
    finished_run: tuple[Path, Path],
) -> None:
    workdir, run_dir = finished_run
    (workdir / "strict.yaml").write_text(STRICT)
    done = meltproof("check", str(run_dir), "--scenario", "strict.yaml", cwd=workdir)
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads((run_dir / "report.json").read_text())
    verdicts = {c["name"]: c["valid"] for c in report["checks"]}
    assert verdicts == {
        "p50_during_fault": False,
        "errors": True,
        "answered": True,
        "steady_state_after": True,
        "faults_applied": True,
        "generator": True,
    }


def test_a_malformed_scenario_is_a_harness_error_naming_the_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(SCENARIO.replace("rate_rps: 8", "rate_rps: fast"))
    done = meltproof("run", "bad.yaml", cwd=tmp_path)
    assert done.returncode == 3
    assert "bad.yaml:16: workload.arrivals.shape.rate_rps" in done.stderr.replace("\n", "")
    assert not (tmp_path / ".meltproof").exists()
