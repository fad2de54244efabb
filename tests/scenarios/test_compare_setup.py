"""What comparisons set up: the baseline's worktree, the calibration fault, the gate's config."""

import subprocess
from pathlib import Path

import pytest

from scenarios.compare.capacity import at_rate
from scenarios.compare.gate import load_gate_config
from scenarios.compare.interleaved import with_extra_latency
from scenarios.git import GitError, worktree
from scenarios.loader import load_scenario, resolve
from scenarios.schema import SuiteError


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "reference_impl").mkdir(parents=True)
    (repo / "reference_impl" / "__init__.py").write_text("VERSION = 'baseline'\n")
    git(repo, "init", "-q")
    git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "add", ".")
    git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "baseline")
    return repo


def test_the_baseline_is_a_worktree_of_its_ref_for_the_comparison_only(
    repository: Path, monkeypatch
) -> None:
    monkeypatch.chdir(repository)
    base = repository.parent / "base"
    with worktree("HEAD", base) as path:
        assert (path / "reference_impl" / "__init__.py").read_text() == "VERSION = 'baseline'\n"
        with worktree("HEAD", base) as again:  # one left from before is replaced
            assert again == path
    assert not base.exists()
    listed = subprocess.run(
        ["git", "worktree", "list"], cwd=repository, capture_output=True, text=True, check=True
    )
    assert str(base) not in listed.stdout


@pytest.mark.parametrize("ref", ["no-such-ref", "--orphan"])
def test_an_unknown_ref_is_an_error_that_names_it(repository: Path, monkeypatch, ref) -> None:
    monkeypatch.chdir(repository)
    with pytest.raises(GitError, match=ref), worktree(ref, repository.parent / "base"):
        pass
    assert not (repository.parent / "base").exists()


def test_the_calibration_fault_slows_the_provider_link_for_the_whole_load() -> None:
    spec = load_scenario(resolve("steady_chat")[0])
    slowed = with_extra_latency(spec, 25)
    [event] = slowed.faults
    assert event.at_s == 0
    assert event.for_s is None
    assert event.fault.kind == "latency"
    assert event.fault.latency_ms == 25
    assert not spec.faults


def test_a_capacity_step_runs_the_scenario_at_a_constant_rate() -> None:
    spec = load_scenario(resolve("monday_peak")[0])
    stepped = at_rate(spec, 42.0)
    assert stepped.workload.arrivals.shape.kind == "constant"
    assert stepped.workload.arrivals.shape.rate_rps == 42.0
    assert stepped.workload.tenants == spec.workload.tenants


def test_the_gate_config_names_its_mistakes(tmp_path: Path) -> None:
    path = tmp_path / "gate.yaml"
    path.write_text("scenarios: [steady_chat]\nruns: 0\n")
    with pytest.raises(SuiteError, match="runs: Input should be greater than or equal to 1"):
        load_gate_config(path)
    assert load_gate_config(Path("perf/gate.yaml")).scenarios == ["steady_chat"]
