"""``meltproof gateway`` and ``meltproof worker``: the gateway's and the embedding worker's
click commands, the same as ``python -m reference_impl`` (and its worker) run."""

import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

import reference_impl.embedding_worker.cli as worker_cli
import reference_impl.serve as serve_module
from scenarios.cli import main


REPO = Path(__file__).resolve().parents[2]


def meltproof(*args: str) -> Result:
    return CliRunner().invoke(main, args, prog_name="meltproof")


def every_command(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    commands: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        commands[prefix + name] = command
        if isinstance(command, click.Group):
            commands |= every_command(command, f"{prefix}{name} ")
    return commands


def test_every_option_of_every_command_has_a_help_text() -> None:
    missing = [
        f"{name} {param.opts[0]}"
        for name, command in every_command(main).items()
        for param in command.params
        if isinstance(param, click.Option) and not param.help
    ]
    assert missing == []


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("gateway", ["--port", "--config", "--enable", "--access-log", "--shutdown-timeout-s"]),
        ("worker", ["--dsn", "--dimensions", "--concurrency", "--stats-interval-s"]),
    ],
)
def test_the_help_shows_every_option_and_its_default(name, options) -> None:
    result = meltproof(name, "--help")
    assert result.exit_code == 0
    assert result.output.startswith(f"Usage: meltproof {name} [OPTIONS]\n")
    for option in options:
        assert f" {option} " in result.output
    if name == "gateway":
        assert "[default: 8080]" in result.output


@pytest.fixture
def served(monkeypatch) -> list[dict[str, Any]]:
    """What the gateway was started with, instead of serving."""
    started: list[dict[str, Any]] = []

    def serve_worker(config, host, port, **options) -> None:
        started.append({"config": config, "host": host, "port": port, **options})

    monkeypatch.setattr(serve_module, "serve_worker", serve_worker)
    return started


@pytest.mark.parametrize(
    "bad", [["--port", "eighty"], ["--profile", "sturdy"], ["--enable", "magic"], ["--nope"]]
)
def test_a_bad_gateway_option_is_a_usage_error(served, bad: list[str]) -> None:
    result = meltproof("gateway", *bad)
    assert result.exit_code == 2
    assert "Usage: meltproof gateway [OPTIONS]" in result.output
    assert "Error:" in result.output
    assert served == []


def test_a_config_the_gateway_refuses_is_a_usage_error_naming_it(served, tmp_path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text("tenants: [{name: one}]\n")
    result = meltproof("gateway", "--config", str(path), "--provider-url", "http://127.0.0.1:9")
    assert result.exit_code == 2
    assert "Error:" in result.output
    assert "api_key" in result.output
    assert served == []


def test_several_workers_need_a_fixed_port(served) -> None:
    result = meltproof("gateway", "--port", "0", "--workers", "2", *tenant_options())
    assert result.exit_code == 2
    assert "--workers > 1 needs a fixed --port" in result.output
    assert served == []


def tenant_options() -> list[str]:
    return ["--provider-url", "http://127.0.0.1:9/v1"]


def test_the_gateway_gets_the_values_click_parsed(served, monkeypatch, tmp_path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text("tenants: [{name: one, api_key: " + "k" * 24 + "}]\n")
    given = ["--port", "9000", "--config", str(path), "--profile", "naive", "--enable", "cache",
             "--enable", "breaker", "--access-log", *tenant_options()]  # fmt: skip
    result = meltproof("gateway", *given)
    assert result.exit_code == 0, result.output
    [started] = served
    assert (started["host"], started["port"]) == ("127.0.0.1", 9000)
    assert started["access_log"] is True
    assert started["shutdown_timeout_s"] == 10.0
    config = started["config"]
    assert config.profile == "naive"
    assert config.cache.enabled
    assert config.breaker.enabled
    assert not config.coalescing.enabled


def test_the_worker_gets_the_values_click_parsed(monkeypatch) -> None:
    started: list[dict[str, Any]] = []

    async def serve(settings, **options) -> None:
        started.append({"settings": settings, **options})

    monkeypatch.setattr(worker_cli, "serve", serve)
    given = ["--dsn", "postgresql:///x", "--provider-url", "http://p", "--dimensions", "8",
             "--stats-interval-s", "2.5", "--concurrency", "3"]  # fmt: skip
    result = meltproof("worker", *given)
    assert result.exit_code == 0, result.output
    [run] = started
    assert run["settings"].dimensions == 8
    assert (run["concurrency"], run["stats_interval_s"]) == (3, 2.5)


def test_a_missing_or_bad_worker_option_is_a_usage_error() -> None:
    assert meltproof("worker").exit_code == 2
    required = ["--dsn", "postgresql:///x", "--provider-url", "http://p", "--dimensions", "8"]
    result = meltproof("worker", *required, "--concurrency", "0")
    assert result.exit_code == 2
    assert "Invalid value for '--concurrency'" in result.output


@pytest.mark.parametrize(
    ("module", "prog"),
    [
        ("reference_impl", "python -m reference_impl"),
        ("reference_impl.embedding_worker", "python -m reference_impl.embedding_worker"),
    ],
)
def test_python_m_runs_the_same_command_under_its_own_name(module: str, prog: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Usage: {prog} [OPTIONS]\n")
