"""One scenario, a Redis freeze then a slow provider link, passing on both backends; each run
prints its p95 (``pytest -rA`` shows them side by side)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from containers_support import require_container_backend


SCENARIO = """\
name: freeze_and_slow_provider
description: Redis frozen for 4 s, then every byte from the provider 300 ms late for 4 s
seed: 11
duration_s: 16
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
  prompts: {templates: 20, entities: 200, skew: 1.1}
  max_tokens: 8
steady_state:
  duration_s: 2
faults:
  - name: redis frozen
    at_s: 3
    for_s: 4
    fault: {kind: freeze, service: redis}
  - name: slow provider
    at_s: 9
    for_s: 4
    fault: {kind: latency, link: provider, latency_ms: 300}
checks:
  errors:
    kind: error_rate
    max: 0.01
  answered:
    kind: all_answered
    deadline_s: 4
  p95:
    kind: latency
    percentile: 95
    max_ms: 2000
"""


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    "backend", ["embedded", pytest.param("containers", marks=pytest.mark.containers)]
)
def test_the_scenario_passes_on_the_backend(backend, tmp_path: Path) -> None:
    if backend == "containers":
        require_container_backend()
    (tmp_path / "scenario.yaml").write_text(SCENARIO)
    done = subprocess.run(
        [sys.executable, "-m", "scenarios", "run", "scenario.yaml", "--out", "runs"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "MELTPROOF_BACKEND": backend},
    )  # fmt: skip
    run_dir = tmp_path / "runs" / "freeze_and_slow_provider" / "run"
    stack = json.loads((run_dir.parent / "stack" / "stack.json").read_text())
    assert stack["backend"] == backend
    report = json.loads((run_dir / "report.json").read_text())
    checks = {check["name"]: check for check in report["checks"]}
    print(f"{backend} backend: p95 {checks['p95']['observed']:.0f} ms")  # noqa: T201 - for -rA
    assert done.returncode == 0, done.stdout + done.stderr
    assert report["verdict"] == "pass"
    assert all(check["valid"] for check in checks.values()), checks
