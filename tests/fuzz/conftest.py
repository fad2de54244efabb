"""Fixtures of the fuzz suite (settings from the environment: see ``fuzz_settings``) and its
lines at the end of pytest's output."""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz_settings import FuzzSettings, from_environment


FIGURES = pytest.StashKey[list[str]]()


@pytest.fixture
def fuzz_settings(tmp_path: Path) -> FuzzSettings:
    """How many requests, which seed, and the run's folder."""
    return from_environment(tmp_path)


@pytest.fixture
def report_figures(request: pytest.FixtureRequest) -> list[str]:
    """Lines a test adds here are printed at the end of the pytest run."""
    return request.config.stash.setdefault(FIGURES, [])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fuzz figures, after pytest's own summary."""
    figures = terminalreporter.config.stash.get(FIGURES, [])
    if figures:
        terminalreporter.write_sep("-", "fuzz")
        for line in figures:
            terminalreporter.write_line(line)
