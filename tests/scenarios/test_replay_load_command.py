"""``meltproof load --replay``: which options go with it, and what a replayed run stores."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from test_replay_workload_spec import access_log

from benchmarks.history import read_history
from scenarios.cli import load_command, main
from stack.ports import ephemeral_port


def _load(*options: str) -> Result:
    return CliRunner().invoke(
        main, ["load", "--url", f"http://127.0.0.1:{ephemeral_port()}", *options]
    )


def test_a_run_needs_a_rate_and_a_duration_or_a_replay() -> None:
    result = _load("--rate", "1")
    assert result.exit_code == 2
    assert "give --rate and --duration (or --replay FILE)" in result.output


def test_a_malformed_replay_file_is_refused_before_any_load(tmp_path: Path) -> None:
    log = access_log(tmp_path / "access.log")
    log.write_text(log.read_text() + '{"ts": "later"}\n')
    out = tmp_path / "history"
    result = _load("--replay", str(log), "--out", str(out))
    assert result.exit_code == 2
    assert f"{log}:4: field" in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--rate", "5"], "--rate cannot go with --replay of"),
        (["--tenants", "acme", "--max-tokens", "9"], "--tenants, --max-tokens cannot go with"),
    ],
)
def test_options_of_the_synthetic_mix_cannot_go_with_a_replay(
    tmp_path: Path, options: list[str], message: str
) -> None:
    log = access_log(tmp_path / "access.log")
    result = _load("--replay", str(log), *options)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_a_replayed_run_sends_the_file_and_names_it_in_its_history(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(load_command, "interrupt_on_signals", lambda: None)
    log = access_log(tmp_path / "access.log")
    out = tmp_path / "history"
    result = _load("--replay", str(log), "--speed", "10", "--out", str(out))
    assert result.exit_code == 0, result.output
    history = read_history(out)
    assert len(history.table.ops) == 3
    assert history.table.tenants == ("acme", "globex")
    assert history.meta["duration_s"] == pytest.approx(0.3)  # 2 s and one 1 s gap, 10x faster
    stored = json.loads((out / "run.json").read_text())["workload"]["replay"]
    assert stored == {"source": str(log), "speed": 10.0}
