"""``meltproof canary`` against the real stack: a canary of a browned-out model rolls back
at its first step; a harmless one is promoted step by step. Each writes its step table
(canary.md) under its --out folder."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


FLAGS: dict[str, Any] = {
    "flags": {
        "model": {
            "state": "ENABLED",
            "variants": {"stable": "gpt-4o-mini", "canary": "gpt-4o"},
            "defaultVariant": "stable",
        }
    }
}

SCENARIO = """\
name: {name}
seed: 5
duration_s: 30
target:
  gateway:
    profile: hardened
    settings:
      flags: {{file: {flags}, poll_s: 0.2}}
  timeout_s: 5
provider:
  models:
    - {{name: gpt-4o-mini, ttft_ms: 30, tpot_ms: 1, jitter: 0.05, slots: 64,
       output_tokens_min: 4, output_tokens_max: 8}}
    - {{name: gpt-4o, ttft_ms: 30, tpot_ms: 1, jitter: 0.05, slots: 64,
       output_tokens_min: 4, output_tokens_max: 8}}
    - {{name: local-llm, ttft_ms: 10, tpot_ms: 1, jitter: 0.05, slots: 16}}
    - {{name: text-embedding-3-small, kind: embedding, dimensions: 8, ttft_ms: 5}}
workload:
  arrivals:
    shape: {{kind: constant, rate_rps: 40}}
  prompts: {{templates: 50, entities: 1000, skew: 0}}
  max_tokens: 8
steady_state: {{enabled: false}}
faults: {faults}
checks:
  p95:
    kind: latency
    percentile: 95
    max_ms: 500
  errors:
    kind: error_rate
    max: 0.02
"""

BROWNOUT = """
  - name: canary model brownout
    at_s: 0
    fault: {kind: brownout, model: gpt-4o, latency_multiplier: 15}"""


def canary(tmp_path: Path, name: str, faults: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    flags = tmp_path / "flags.json"
    flags.write_text(json.dumps(FLAGS))
    scenario = tmp_path / f"{name}.yaml"
    scenario.write_text(SCENARIO.format(name=name, flags=flags, faults=faults))
    done = subprocess.run(
        [sys.executable, "-m", "scenarios", "canary", str(scenario), "--flag", "model",
         "--to", "canary", "--step-s", "3", "--out", str(tmp_path / "out")],
        cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    return done, tmp_path / "out"


def test_a_canary_of_a_browned_out_model_rolls_back_at_its_first_step(tmp_path: Path) -> None:
    done, out = canary(tmp_path, "canary_brownout", BROWNOUT)
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads((out / "canary.json").read_text())
    assert report["decision"] == "roll back"
    [step] = report["steps"]
    assert (step["percent"], step["decision"]) == (10, "roll back")
    assert step["canary"]["requests"] > 0
    verdicts = {c["metric"]: c["verdict"] for c in step["comparisons"]}
    assert verdicts["latency_ms"] == "worse"
    assert step["canary"]["p50_ms"] > 3 * step["stable"]["p50_ms"]
    assert json.loads((tmp_path / "flags.json").read_text()) == FLAGS
    assert "| 10% |" in (out / "canary.md").read_text()


def test_a_harmless_canary_is_promoted_step_by_step(tmp_path: Path) -> None:
    done, out = canary(tmp_path, "canary_harmless", "[]")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((out / "canary.json").read_text())
    assert report["decision"] == "promote"
    steps = [(s["percent"], s["decision"]) for s in report["steps"]]
    assert steps == [(10, "continue"), (50, "continue"), (100, "promote")]
    for step in report["steps"]:
        assert step["canary"]["requests"] > 0
        assert step["stable"]["requests"] > 0
        assert step["requests_without_variant"] == 0
    shares = [s["canary"]["requests"] / (s["canary"]["requests"] + s["stable"]["requests"])
              for s in report["steps"][:2]]  # fmt: skip
    assert 0.02 < shares[0] < 0.25
    assert 0.3 < shares[1] < 0.7
    flag = json.loads((tmp_path / "flags.json").read_text())["flags"]["model"]
    assert (flag["defaultVariant"], flag["targeting"]) == ("canary", {})
