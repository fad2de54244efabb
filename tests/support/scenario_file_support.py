"""Scenario files written for a test, and the error loading one gives."""

from pathlib import Path

import pytest

from scenarios.loader import load_scenario
from scenarios.schema import SuiteError


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(path: Path) -> str:
    with pytest.raises(SuiteError) as caught:
        load_scenario(path)
    return str(caught.value)
