"""Any gateway as a command target: a pass-through proxy written here, wired through the links.

It slows down by a provider-link latency fault during the fault's window only, its upstream
amplification comes from the provider's ground truth, and a fault on a link it does not use is
refused before anything starts.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scenarios.stored_run import StoredRun, read_run


PASSTHROUGH = Path(__file__).parents[1] / "support" / "passthrough_gateway.py"
LATENCY_MS = 300

SCENARIO = f"""\
name: passthrough_latency
seed: 3
duration_s: 9
target:
  command:
    name: passthrough
    argv: [{sys.executable}, {PASSTHROUGH}, --port, "{{port}}", --upstream, "{{provider_url}}"]
    ready_path: /healthz
  timeout_s: 5
provider:
  models:
    - {{name: gpt-4o-mini, ttft_ms: 30, tpot_ms: 1, jitter: 0.05, slots: 64,
       output_tokens_min: 4, output_tokens_max: 8}}
    - {{name: local-llm, ttft_ms: 10, tpot_ms: 1, jitter: 0.05, slots: 16}}
    - {{name: text-embedding-3-small, kind: embedding, dimensions: 8, ttft_ms: 5}}
workload:
  arrivals:
    shape: {{kind: constant, rate_rps: 8}}
  prompts: {{templates: 20, entities: 500, skew: 0}}
  model: gpt-4o-mini
  max_tokens: 8
steady_state:
  duration_s: 2
faults:
  - name: slow provider
    at_s: 3
    for_s: 3
    fault: {{kind: latency, link: provider, latency_ms: {LATENCY_MS}}}
checks:
  errors: {{kind: error_rate, max: 0.01}}
  amplification: {{kind: upstream_amplification, relative_to: requests, max: 1.05}}
  degraded: {{kind: degraded_rate, max: 0.05}}
"""


def meltproof(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scenarios", *args],
        cwd=cwd, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def passthrough_run(tmp_path_factory: pytest.TempPathFactory) -> StoredRun:
    workdir = tmp_path_factory.mktemp("command")
    (workdir / "passthrough.yaml").write_text(SCENARIO)
    done = meltproof("run", "passthrough.yaml", "--out", "runs", cwd=workdir)
    assert done.returncode == 0, done.stdout + done.stderr
    return read_run(workdir / "runs" / "passthrough_latency" / "run")


def latency_ms(run: StoredRun, inside: bool) -> np.ndarray:
    ops = run.table.ops
    window = run.faults[0]
    assert window.ended_s is not None
    intended = ops["intended_s"]
    during = (intended >= window.started_s) & (intended < window.ended_s - 0.5)
    after = intended > window.ended_s + 0.5
    selected = during if inside else (intended < window.started_s) | after
    return (ops["end_s"][selected] - intended[selected]) * 1000


def test_the_gateway_is_slower_by_the_fault_during_its_window_only(
    passthrough_run: StoredRun,
) -> None:
    outside = np.median(latency_ms(passthrough_run, inside=False))
    during = np.median(latency_ms(passthrough_run, inside=True))
    assert outside < LATENCY_MS / 2
    assert during >= outside + LATENCY_MS * 0.9


def test_amplification_comes_from_the_providers_ground_truth(passthrough_run: StoredRun) -> None:
    assert passthrough_run.provider is not None
    upstream = passthrough_run.provider["total"]["requests"]
    sent = int((~np.isnan(passthrough_run.table.ops["sent_s"])).sum())
    assert upstream == sent  # a pass-through: one provider call per client request
    assert passthrough_run.target is not None
    assert passthrough_run.target["name"] == "passthrough"
    assert passthrough_run.target["links"] == ["provider"]


def test_a_check_the_gateway_cannot_give_is_not_applicable_and_the_run_passes(
    passthrough_run: StoredRun,
) -> None:
    report = json.loads((passthrough_run.path / "report.json").read_text())
    verdicts = {check["name"]: check["valid"] for check in report["checks"]}
    assert verdicts["degraded"] == "not_applicable"  # x-degraded is our gateway's header
    assert verdicts["errors"] is True
    assert report["verdict"] == "pass"  # and the run exited 0 (the fixture checks)


def test_a_fault_on_a_link_the_command_does_not_use_is_refused(tmp_path: Path) -> None:
    redis_fault = SCENARIO.replace("link: provider", "link: redis")
    (tmp_path / "redis.yaml").write_text(redis_fault)
    done = meltproof("run", "redis.yaml", "--out", "runs", cwd=tmp_path)
    assert done.returncode == 3
    message = " ".join((done.stdout + done.stderr).split())
    assert "fault 'slow provider' acts on the redis link" in message
    assert "target passthrough" in message
    assert not (tmp_path / "runs").exists()
