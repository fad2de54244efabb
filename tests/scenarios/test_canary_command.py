"""``meltproof canary``'s refusals, before any stack starts."""

import json
from pathlib import Path

from click.testing import CliRunner

from scenarios.cli import main


SCENARIO = """\
name: c
duration_s: 10
target:
  gateway: {{settings: {settings}}}
workload:
  arrivals: {{shape: {{kind: constant, rate_rps: 2}}}}
checks:
  errors: {{kind: error_rate, max: 0.1}}
"""

FLAGS = {
    "flags": {
        "model": {
            "state": "ENABLED",
            "variants": {"stable": "gpt-4o-mini", "canary": "gpt-4o"},
            "defaultVariant": "stable",
        }
    }
}


def canary(tmp_path: Path, settings: str, *args: str):
    (tmp_path / "c.yaml").write_text(SCENARIO.format(settings=settings))
    return CliRunner().invoke(
        main, ["canary", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "out"), *args]
    )


def test_a_scenario_without_a_flags_file_is_refused(tmp_path: Path) -> None:
    done = canary(tmp_path, "{}", "--flag", "model", "--to", "canary")
    assert done.exit_code == 3
    assert "needs our gateway with a flags file" in done.output
    assert not (tmp_path / "out").exists()


def test_a_variant_the_flag_lacks_is_refused(tmp_path: Path) -> None:
    flags = tmp_path / "flags.json"
    flags.write_text(json.dumps(FLAGS))
    done = canary(tmp_path, f"{{flags: {{file: {flags}}}}}", "--flag", "model", "--to", "nope")
    assert done.exit_code == 3
    assert "a variant 'nope' besides it" in done.output
    done = canary(tmp_path, f"{{flags: {{file: {flags}}}}}", "--flag", "other", "--to", "x")
    assert done.exit_code == 3
    assert "no flag 'other'" in done.output


def test_steps_must_rise_to_100(tmp_path: Path) -> None:
    done = canary(tmp_path, "{}", "--flag", "model", "--to", "canary", "--steps", "10,50")
    assert done.exit_code == 2
    assert "end at 100" in done.output
