"""A ``flag`` event on a scenario's timeline: the gateway serves the other model while it
lasts, and the report's calls per model per second show the flip."""

import json
import subprocess
import sys
from pathlib import Path


FLAGS = {
    "flags": {
        "model": {
            "state": "ENABLED",
            "variants": {"stable": "gpt-4o-mini", "new": "gpt-4o"},
            "defaultVariant": "stable",
        }
    }
}

SCENARIO = """\
name: flag_flip
seed: 2
duration_s: 9
target:
  gateway:
    profile: hardened
    settings:
      flags: {{file: {flags}, poll_s: 0.2}}
  timeout_s: 5
provider:
  models:
    - {{name: gpt-4o-mini, ttft_ms: 20, tpot_ms: 1, jitter: 0.05, slots: 64,
       output_tokens_min: 4, output_tokens_max: 8}}
    - {{name: gpt-4o, ttft_ms: 20, tpot_ms: 1, jitter: 0.05, slots: 64,
       output_tokens_min: 4, output_tokens_max: 8}}
    - {{name: local-llm, ttft_ms: 10, tpot_ms: 1, jitter: 0.05, slots: 16}}
    - {{name: text-embedding-3-small, kind: embedding, dimensions: 8, ttft_ms: 5}}
workload:
  arrivals:
    shape: {{kind: constant, rate_rps: 10}}
  prompts: {{templates: 50, entities: 1000, skew: 0}}
  max_tokens: 8
steady_state: {{enabled: false}}
faults:
  - name: new model
    at_s: 3
    for_s: 3
    fault: {{kind: flag, file: {flags}, flag: model, variant: new}}
checks:
  errors:
    kind: error_rate
    max: 0.01
"""


def test_a_flag_flip_moves_the_calls_to_the_other_model_while_it_lasts(tmp_path: Path) -> None:
    flags = tmp_path / "flags.json"
    flags.write_text(json.dumps(FLAGS))
    (tmp_path / "flip.yaml").write_text(SCENARIO.format(flags=flags))
    done = subprocess.run(
        [sys.executable, "-m", "scenarios", "run", "flip.yaml", "--out", "runs"],
        cwd=tmp_path, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "runs" / "flag_flip" / "run" / "report.json").read_text())
    [window] = report["faults"]
    assert (window["name"], window["kind"], window.get("error")) == ("new model", "flag", None)
    provider = report["timeline"]["provider"]
    calls: dict[str, list[int]] = {}
    for series in provider["series"]:
        per_model = calls.setdefault(series["model"], [0] * len(series["counts"]))
        for k, count in enumerate(series["counts"]):
            per_model[k] += count
    start = provider["start_s"]

    def during(model: str, a_s: float, b_s: float) -> int:
        return sum(c for k, c in enumerate(calls.get(model, [])) if a_s <= start + k + 0.5 < b_s)

    flip_s, heal_s = window["started_s"], window["ended_s"]
    assert during("gpt-4o", 0, flip_s) == 0
    assert during("gpt-4o", flip_s + 1, heal_s) > 0
    assert during("gpt-4o-mini", flip_s + 1, heal_s - 0.5) == 0
    assert during("gpt-4o", heal_s + 1, 9) == 0
    assert during("gpt-4o-mini", heal_s + 1, 9) > 0
    assert json.loads(flags.read_text()) == FLAGS
    assert (
        "all statuses: gpt-4o"
        in (tmp_path / "runs" / "flag_flip" / "run" / "report.md").read_text()
    )
