"""``meltproof gateway`` and ``meltproof worker``: click commands made from the option tables
that ``python -m reference_impl`` (and its worker) parse with argparse."""

from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

import reference_impl.__main__ as gateway_main
import reference_impl.embedding_worker.cli as worker_main
from scenarios import gateway_command, worker_command
from scenarios.cli import main


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
    ("name", "options"), [("gateway", gateway_main.OPTIONS), ("worker", worker_main.OPTIONS)]
)
def test_the_help_is_clicks_with_every_option_and_its_text(name, options) -> None:
    result = meltproof(name, "--help")
    assert result.exit_code == 0
    assert result.output.startswith(f"Usage: meltproof {name} [OPTIONS]\n")
    assert "\nOptions:\n" in result.output
    flat = " ".join(result.output.split())
    for option in options:
        assert f" {option.name} " in flat
        assert " ".join(option.help.split()) in flat


@pytest.mark.parametrize(
    "bad", [["--port", "eighty"], ["--profile", "sturdy"], ["--enable", "magic"], ["--nope"]]
)
def test_a_bad_gateway_option_is_a_usage_error(monkeypatch, bad: list[str]) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(gateway_command, "main", lambda argv, **_: started.append(argv) or 0)
    result = meltproof("gateway", *bad)
    assert result.exit_code == 2
    assert "Usage: meltproof gateway [OPTIONS]" in result.output
    assert "Error:" in result.output
    assert started == []


def test_a_missing_or_bad_worker_option_is_a_usage_error() -> None:
    assert meltproof("worker").exit_code == 2
    required = ["--dsn", "postgresql:///x", "--provider-url", "http://p", "--dimensions", "8"]
    result = meltproof("worker", *required, "--concurrency", "0")
    assert result.exit_code == 2
    assert "Invalid value for '--concurrency'" in result.output


def test_the_gateway_gets_the_values_click_parsed(monkeypatch) -> None:
    started: list[tuple[list[str], str]] = []

    def serve(argv: list[str], prog: str) -> int:
        started.append((argv, prog))
        return 0

    monkeypatch.setattr(gateway_command, "main", serve)
    given = ["--port", "9000", "--config", "g.yaml", "--enable", "cache", "--enable",
             "breaker", "--profile", "naive", "--access-log"]  # fmt: skip
    result = meltproof("gateway", *given)
    assert result.exit_code == 0, result.output
    [(argv, prog)] = started
    assert prog == "meltproof gateway"
    parsed = vars(gateway_main.parser().parse_args(argv))
    assert parsed == vars(gateway_main.parser().parse_args(given))
    assert parsed["config"] == Path("g.yaml")
    assert parsed["enable"] == ["cache", "breaker"]
    assert parsed["access_log"] is True


def test_the_worker_gets_the_values_click_parsed(monkeypatch) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(worker_command, "main", lambda argv, **_: started.append(argv) or 3)
    given = ["--dsn", "postgresql:///x", "--provider-url", "http://p", "--dimensions", "8",
             "--stats-interval-s", "2.5"]  # fmt: skip
    result = meltproof("worker", *given)
    assert result.exit_code == 3  # the worker's own exit status
    [argv] = started
    assert vars(worker_main.parser().parse_args(argv)) == vars(
        worker_main.parser().parse_args(given)
    )


def test_python_m_keeps_its_argparse_command_line() -> None:
    text = gateway_main.parser().format_help()
    assert text.startswith("usage: python -m reference_impl")
    assert "[default: 8080]" in " ".join(text.split())
    with pytest.raises(SystemExit) as exit_:
        worker_main.parser().parse_args(["--dsn", "x", "--provider-url", "p"])
    assert exit_.value.code == 2
