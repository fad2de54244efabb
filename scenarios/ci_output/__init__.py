"""Verdicts in the formats CI systems read: JUnit XML, and GitHub Actions' summary and annotations.

``write_junit`` writes ``JUnitSuite`` objects, which ``suite_of_checks`` (a scenario run) and
``suite_of_comparison`` (baseline against candidate) build. On GitHub Actions,
``append_step_summary`` adds Markdown to the job's summary and ``annotate`` (or
``annotate_checks``, ``annotate_comparison``) marks what broke; elsewhere they do nothing.
"""

from .annotations import annotate_checks, annotate_comparison
from .github import Level, annotate, append_step_summary, on_github_actions
from .github_run import publish_run, publish_stopped_run
from .junit import JUnitCase, JUnitSuite, Outcome, write_junit
from .suites import (
    suite_of_checks,
    suite_of_comparison,
    suite_of_harness_error,
    suite_of_steady_state_failure,
)


__all__ = [
    "JUnitCase",
    "JUnitSuite",
    "Level",
    "Outcome",
    "annotate",
    "annotate_checks",
    "annotate_comparison",
    "append_step_summary",
    "on_github_actions",
    "publish_run",
    "publish_stopped_run",
    "suite_of_checks",
    "suite_of_comparison",
    "suite_of_harness_error",
    "suite_of_steady_state_failure",
    "write_junit",
]
