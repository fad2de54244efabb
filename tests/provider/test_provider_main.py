"""``python -m stack.provider``: help and config errors (serving is tested with the SDK)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stack.provider.__main__ import main


def _exit_code(args: list[str]) -> int | str | None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    return exited.value.code


def test_help_describes_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--config"):
        assert option in out


def test_an_invalid_config_names_the_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "provider.json"
    path.write_text('{"models": [{"name": "m", "slots": 0}]}')
    assert _exit_code(["--config", str(path)]) == 2
    captured = capsys.readouterr()
    assert str(path) in captured.err
    assert "models.0.slots" in captured.err
    assert captured.out == ""


def test_a_missing_or_broken_config_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _exit_code(["--config", str(tmp_path / "absent.json")]) == 2
    assert "absent.json" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert _exit_code(["--config", str(broken)]) == 2
    assert "broken.json" in capsys.readouterr().err
