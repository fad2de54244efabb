"""``meltproof load``'s command line: option parsing, per-tenant keys, thresholds."""

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from benchmarks.plan import LoadResult
from scenarios.cli import load_command, main
from scenarios.cli.load_command import tenant_api_key
from stack.ports import ephemeral_port


def test_a_tenant_key_comes_from_its_own_variable() -> None:
    environ = {"MELTPROOF_API_KEY_NOISY_CO": "sk-noisy", "MELTPROOF_API_KEY_ACME": ""}
    assert tenant_api_key("noisy-co", environ) == "sk-noisy"
    assert tenant_api_key("acme", environ) is None  # empty means unset
    assert tenant_api_key("globex", environ) is None


def _load(*options: str) -> Result:
    """``meltproof load`` with a minimal command line plus ``options``."""
    required = ["--url", "http://127.0.0.1:1", "--rate", "1", "--duration", "1"]
    return CliRunner().invoke(main, ["load", *required, *options])


def test_bad_weights_name_the_item() -> None:
    result = _load("--tenants", "acme=lots")
    assert result.exit_code == 2
    assert "'acme=lots': the weight after '=' must be a number" in result.output


def test_an_unknown_endpoint_is_refused_with_the_known_ones() -> None:
    result = _load("--endpoints", "chat,completions")
    assert result.exit_code == 2
    assert "unknown endpoint 'completions'" in result.output
    assert "chat_stream" in result.output


def test_a_url_without_a_scheme_is_refused() -> None:
    result = CliRunner().invoke(
        main, ["load", "--url", "127.0.0.1:8080", "--rate", "1", "--duration", "1"]
    )
    assert result.exit_code == 2
    assert "http:// or https://" in result.output


def test_a_malformed_threshold_is_a_usage_error_before_any_load(tmp_path: Path) -> None:
    out = tmp_path / "history"
    result = _load("--threshold", "p99<1s", "--threshold", "p99<500", "--out", str(out))
    assert result.exit_code == 2
    assert "'p99<500': p99 is a latency: give it in ms or s" in result.output
    assert not out.exists()


def _load_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *thresholds: str) -> Result:
    """Half a second of load at a closed port: every request fails to connect."""
    monkeypatch.setattr(load_command, "interrupt_on_signals", lambda: None)
    options = [
        "--url", f"http://127.0.0.1:{ephemeral_port()}", "--rate", "20", "--duration", "0.5",
        "--arrivals", "regular", "--out", str(tmp_path / "history"),
    ]  # fmt: skip
    for threshold in thresholds:
        options += ["--threshold", threshold]
    return CliRunner().invoke(main, ["load", *options])


def test_a_failed_threshold_exits_1_with_the_observed_figure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result = _load_refused(monkeypatch, tmp_path, "error_rate<1%", "rps>=5")
    assert result.exit_code == 1, result.output
    assert "✗ error_rate<1%  observed 100.00%" in result.output
    assert "✓ rps>=5         observed " in result.output  # 20 scheduled, so about 20 req/s


def test_held_thresholds_exit_0(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    result = _load_refused(monkeypatch, tmp_path, "error_rate<=100%", "p50<10s")
    assert result.exit_code == 0, result.output
    assert "✓ p50<10s" in result.output


def test_a_generator_shortfall_exit_3_wins_over_a_failed_threshold(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(LoadResult, "shortfall", lambda _self: "the generator fell behind")
    result = _load_refused(monkeypatch, tmp_path, "error_rate<1%")
    assert result.exit_code == 3, result.output
    assert "✗ error_rate<1%" in result.output
