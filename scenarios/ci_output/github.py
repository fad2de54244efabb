"""GitHub Actions' own channels: the job's step summary and workflow-command annotations.

Both act only when ``GITHUB_ACTIONS`` is ``true``, so the same command runs quietly elsewhere.
Annotations are workflow commands on stdout (``::error title=...::message``), escaped as the
runner expects: ``%``, CR and LF in the message, and also ``:`` and ``,`` in property values.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, TextIO


Level = Literal["error", "warning", "notice"]

_DATA_ESCAPES = (("%", "%25"), ("\r", "%0D"), ("\n", "%0A"))
_PROPERTY_ESCAPES = (*_DATA_ESCAPES, (":", "%3A"), (",", "%2C"))


def on_github_actions(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether this process runs in a GitHub Actions job."""
    return environ.get("GITHUB_ACTIONS") == "true"


def append_step_summary(markdown: str, environ: Mapping[str, str] = os.environ) -> None:
    """Append ``markdown`` and a blank line to the job's step summary, if there is one."""
    summary = environ.get("GITHUB_STEP_SUMMARY")
    if not (on_github_actions(environ) and summary):
        return
    with Path(summary).open("a", encoding="utf-8") as file:
        file.write(markdown.rstrip("\n") + "\n\n")


def annotate(
    level: Level,
    title: str,
    message: str,
    stream: TextIO | None = None,
    environ: Mapping[str, str] = os.environ,
) -> None:
    """Print an annotation of ``level`` to ``stream`` (stdout by default) on GitHub Actions."""
    if not on_github_actions(environ):
        return
    properties = f" title={_escaped(title, _PROPERTY_ESCAPES)}" if title else ""
    out = sys.stdout if stream is None else stream
    out.write(f"::{level}{properties}::{_escaped(message, _DATA_ESCAPES)}\n")
    out.flush()


def _escaped(value: str, escapes: tuple[tuple[str, str], ...]) -> str:
    for raw, escaped in escapes:
        value = value.replace(raw, escaped)
    return value
