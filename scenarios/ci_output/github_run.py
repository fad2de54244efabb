"""A scenario run on GitHub Actions: its report in the step summary, its problems annotated."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from scenarios.checks.result import CheckResult
from scenarios.report.markdown import text

from .annotations import annotate_checks
from .github import annotate, append_step_summary, on_github_actions


def publish_run(
    scenario_name: str,
    results: Sequence[CheckResult],
    report_markdown: Path,
    *,
    stream: TextIO | None = None,
    environ: Mapping[str, str] = os.environ,
) -> None:
    """The run's ``report.md`` into the step summary, and its failed, undecided and not
    applicable checks as annotations; nothing off GitHub Actions."""
    if not on_github_actions(environ):
        return
    append_step_summary(report_markdown.read_text(encoding="utf-8"), environ)
    annotate_checks(scenario_name, results, stream, environ)


def publish_stopped_run(
    scenario_name: str,
    problem: str,
    message: str,
    *,
    stream: TextIO | None = None,
    environ: Mapping[str, str] = os.environ,
) -> None:
    """A run that stopped before its checks (``problem``: ``steady state failed``, ``harness
    error``), as a section of the step summary and an error annotation."""
    if not on_github_actions(environ):
        return
    append_step_summary(f"# {text(scenario_name)}: {text(problem)}\n\n{text(message)}\n", environ)
    annotate("error", f"{scenario_name}: {problem}", message, stream, environ)
