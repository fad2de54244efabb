"""What every benchmark shares: its options, its report, the registry entry, plain tables."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..history import testbed


SCHEMA_VERSION = 1


def say(message: str) -> None:
    """A progress line on stderr, with the wall-clock time."""
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


@dataclass(frozen=True)
class BenchOptions:
    """How a benchmark runs: ``quick`` shortens it; logs of its servers go to ``log_dir``."""

    quick: bool
    log_dir: Path


@dataclass(frozen=True)
class BenchReport:
    """A benchmark's outcome: its parameters, figures, a verdict line and readable tables."""

    parameters: Mapping[str, Any]
    figures: Mapping[str, Any]
    verdict: str
    passed: bool
    """Whether the figures meet the benchmark's target."""
    tables: Sequence[str]

    def to_json(
        self, name: str, *, started_at: float, elapsed_s: float, load_average: Mapping[str, Any]
    ) -> str:
        """The JSON document written to ``<out>/<name>.json``."""
        document = {
            "schema_version": SCHEMA_VERSION,
            "benchmark": name,
            "started_at": started_at,
            "elapsed_s": elapsed_s,
            "load_average": load_average,
            "verdict": self.verdict,
            "passed": self.passed,
            "parameters": self.parameters,
            "figures": self.figures,
            "testbed": testbed(),
        }
        return json.dumps(document, indent=1, allow_nan=False) + "\n"


@dataclass(frozen=True)
class Benchmark:
    """A registry entry: the name on the command line, one line on what it measures, and how."""

    name: str
    description: str
    run: Callable[[BenchOptions], BenchReport]


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, title: str) -> str:
    """A plain-text table with right-aligned columns under a title."""
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    lines = [title, "  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(lines)


def ms(seconds: float | None) -> str:
    """Seconds shown as milliseconds with 3 decimals ("-" when unknown)."""
    return "-" if seconds is None else f"{seconds * 1e3:.3f}"


CHILD_GRACE_S = 120.0
"""Beyond a run's duration, before a child that has not finished counts as hung."""


def run_json_child(argv: Sequence[str], *, duration_s: float, what: str) -> Any:
    """Run a benchmark's child process; its stdout is one JSON document (returned), its stderr
    passes through. A child that hangs or fails is a ``RuntimeError`` naming ``what``."""
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
            argv, stdout=subprocess.PIPE, check=False, timeout=duration_s + CHILD_GRACE_S
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{what} did not finish in time") from None
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed with exit code {done.returncode}")
    return json.loads(done.stdout)
