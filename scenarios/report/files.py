"""Writing a run's reports next to it: JSON, Markdown and HTML, each file atomically.

Each file is written under a temporary name in its directory and renamed into place, so a
reader (a CI job uploading artefacts, a browser) never sees half a report.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scenarios.checks.result import CheckResult
from scenarios.stored_run import StoredRun

from .document import build_report
from .html import render_html
from .markdown import render_markdown


REPORT_FILE_MODE = 0o644


@dataclass(frozen=True)
class ReportPaths:
    """Where the three renderings of a report were written."""

    json: Path
    markdown: Path
    html: Path


def write_reports(
    run: StoredRun, results: Sequence[CheckResult], directory: Path | None = None
) -> ReportPaths:
    """Write ``report.json``, ``report.md`` and ``report.html`` into ``directory`` (the run's)."""
    target = run.path if directory is None else directory
    target.mkdir(parents=True, exist_ok=True)
    report = build_report(run, results)
    paths = ReportPaths(
        json=target / "report.json", markdown=target / "report.md", html=target / "report.html"
    )
    write_atomically(paths.json, json.dumps(report.to_dict(), indent=1, allow_nan=False) + "\n")
    write_atomically(paths.markdown, render_markdown(report))
    write_atomically(paths.html, render_html(report))
    return paths


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename."""
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    staged = Path(name)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as staging:
            staging.write(text)
        staged.chmod(REPORT_FILE_MODE)
        staged.replace(path)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
