"""``meltproof matrix`` end to end: two short scenarios against naive, hardened and a command
target (the pass-through gateway), which cannot feel a Redis fault: its cell is n/a."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


pytestmark = [pytest.mark.integration, pytest.mark.long]

PASSTHROUGH = Path(__file__).parents[1] / "support" / "passthrough_gateway.py"
TARGET = f"""\
command:
  name: passthrough
  argv: [{sys.executable}, {PASSTHROUGH}, --port, "{{port}}", --upstream, "{{provider_url}}"]
  ready_path: /healthz
"""
SCENARIO = """\
name: {name}
seed: 3
duration_s: 4
target:
  gateway: {{profile: hardened}}
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
  duration_s: 1
faults:
  - name: slow {link}
    at_s: 1
    for_s: 2
    fault: {{kind: latency, link: {link}, latency_ms: {latency_ms}}}
checks:
  {check}
"""
SLOW_PROVIDER = SCENARIO.format(
    name="slow_provider",
    link="provider",
    latency_ms=300,
    check="p50_in_fault: {kind: latency, percentile: 50, max_ms: 100, window: during_faults}",
)
"""Every request misses the cache and waits 300 ms more during the fault: fails everywhere."""
SLOW_REDIS = SCENARIO.format(
    name="slow_redis",
    link="redis",
    latency_ms=20,
    check="errors: {kind: error_rate, max: 0.05}",
)
"""Redis 20 ms slower: passes on our gateway; the pass-through does not use Redis."""


@pytest.fixture(scope="module")
def finished(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    workdir = tmp_path_factory.mktemp("matrix")
    (workdir / "slow_provider.yaml").write_text(SLOW_PROVIDER)
    (workdir / "slow_redis.yaml").write_text(SLOW_REDIS)
    (workdir / "passthrough.yaml").write_text(TARGET)
    done = subprocess.run(
        [sys.executable, "-m", "scenarios", "matrix", "slow_provider.yaml", "slow_redis.yaml",
         "--targets", "naive,hardened,passthrough.yaml", "--out", "out", "--junit", "junit.xml"],
        cwd=workdir, capture_output=True, text=True, timeout=170, check=False,
    )  # fmt: skip
    return done, workdir


def statuses(document: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {
        (row["scenario"], label): cell["status"]
        for row in document["rows"]
        for label, cell in row["cells"].items()
    }


def test_each_cell_has_its_verdict_or_why_it_could_not_run(
    finished: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, workdir = finished
    assert done.returncode == 1, done.stdout + done.stderr
    document = json.loads((workdir / "out" / "matrix.json").read_text())
    assert statuses(document) == {
        ("slow_provider", "naive"): "fail",
        ("slow_provider", "hardened"): "fail",
        ("slow_provider", "passthrough"): "fail",
        ("slow_redis", "naive"): "pass",
        ("slow_redis", "hardened"): "pass",
        ("slow_redis", "passthrough"): "n/a",
    }
    refused = document["rows"][1]["cells"]["passthrough"]["reason"]
    assert "fault 'slow redis' acts on the redis link" in refused
    assert "[5/6] hardened \N{MULTIPLICATION SIGN} slow_redis" in done.stdout


def test_the_matrix_links_every_run_and_records_targets_and_testbed(
    finished: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, workdir = finished
    out = workdir / "out"
    document = json.loads((out / "matrix.json").read_text())
    for row in document["rows"]:
        for cell in row["cells"].values():
            if cell["status"] != "n/a":
                assert (out / cell["report"]).is_file()
    slow = document["rows"][0]["cells"]["passthrough"]["figures"]
    assert slow["p95_window"] == "during_faults"
    assert slow["p95_s"] > 0.3
    assert slow["calls_per_request"] == pytest.approx(1.0)
    naive, hardened, passthrough = document["targets"]
    assert naive["name"] == "meltproof gateway (naive)"
    assert hardened["version"].startswith("meltproof ")
    assert (passthrough["kind"], passthrough["name"]) == ("command", "passthrough")
    assert len(document["testbed"]["load_average"]["end"]) == 3
    markdown = (out / "matrix.md").read_text()
    assert "| scenario | naive | hardened | passthrough |" in markdown
    assert "[report](passthrough/slow_provider/run/report.html)" in markdown
    assert 'href="naive/slow_redis/run/report.html"' in (out / "matrix.html").read_text()
    assert '<testsuite name="passthrough"' in (workdir / "junit.xml").read_text()
