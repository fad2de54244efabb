"""A traced scenario run: every request carries a trace, the slowest requests' spans are
read back from the stack's Jaeger, stored with the run, and broken down in the report."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scenarios.report import build_report
from scenarios.stored_run import read_run
from stack.go_build import BUILD_TIMEOUT_S


pytestmark = [
    pytest.mark.timeout(BUILD_TIMEOUT_S + 300),  # the first traces test builds Jaeger
]

SCENARIO = """\
name: traced_retries
seed: 5
duration_s: 6
target:
  gateway: {profile: hardened}
  timeout_s: 5
provider:
  models:
    - {name: gpt-4o, ttft_ms: 40, tpot_ms: 1, jitter: 0.05, slots: 64,
       output_tokens_min: 4, output_tokens_max: 8}
    - {name: gpt-4o-mini, ttft_ms: 30, tpot_ms: 1, jitter: 0.05, slots: 64,
       output_tokens_min: 4, output_tokens_max: 8}
    - {name: local-llm, ttft_ms: 10, tpot_ms: 1, jitter: 0.05, slots: 16}
    - {name: text-embedding-3-small, kind: embedding, dimensions: 8, ttft_ms: 5}
workload:
  arrivals:
    shape: {kind: constant, rate_rps: 10}
  prompts: {templates: 30, entities: 500, skew: 0}
  model: gpt-4o
  max_tokens: 8
steady_state:
  enabled: false
faults:
  - name: gpt-4o errs
    at_s: 1
    for_s: 3
    fault: {kind: provider_errors, model: gpt-4o, rates: {500: 0.5}}
checks:
  answered:
    kind: all_answered
    deadline_s: 4
"""


def test_the_slowest_requests_spans_are_kept_and_reported(tmp_path: Path) -> None:
    (tmp_path / "traced.yaml").write_text(SCENARIO)
    done = subprocess.run(
        [sys.executable, "-m", "scenarios", "run", "traced.yaml", "--traces", "--out", "runs"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    run_dir = tmp_path / "runs" / "traced_retries" / "run"
    run = read_run(run_dir)
    assert run.traces is not None
    assert run.traces.receiver.startswith("jaeger v1.75.0")
    assert len(run.traces.requests) == 10
    latencies = [run.table.op(r.row).latency_s for r in run.traces.requests]
    assert latencies == sorted(latencies, reverse=True)
    assert latencies[0] == max(op.latency_s for op in run.table)
    for request in run.traces.requests:
        assert {span.trace_id for span in request.spans} == {request.trace_id}
        assert any(span.kind == "server" for span in request.spans), request.trace_id
    section = build_report(run, []).slowest_requests
    assert section is not None
    for request in section.requests:
        total = sum(part.ms for part in request.parts)
        assert total >= request.latency_ms * 0.999
    report = json.loads((run_dir / "report.json").read_text())
    assert report["slowest_requests"]["requests"][0]["spans"]
    markdown = (run_dir / "report.md").read_text()
    assert "## Slowest requests: where the time went" in markdown
    assert "upstream.attempt" in markdown
