"""The fuzz suite's settings, from the environment.

``MELTPROOF_FUZZ_REQUESTS`` hostile requests (default 300: the short seeded slice that every
``pytest`` run sends; ``nox -s fuzz`` sends 10,000), seeded by ``MELTPROOF_FUZZ_SEED``. With
``MELTPROOF_FUZZ_OUT`` set, a run keeps its folder there (``run-<time>/``: ``summary.json``,
``failures.jsonl`` and the stack's logs); otherwise it is pytest's temporary folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


REQUESTS = "MELTPROOF_FUZZ_REQUESTS"
SEED = "MELTPROOF_FUZZ_SEED"
OUT = "MELTPROOF_FUZZ_OUT"
DEFAULT_REQUESTS = 300
DEFAULT_SEED = 20_251_207


@dataclass(frozen=True)
class FuzzSettings:
    """How many requests, which seed, and where the run's folder is."""

    requests: int
    seed: int
    run_dir: Path


def requested_count(environ: Mapping[str, str] = os.environ) -> int:
    """The number of hostile requests asked for."""
    return int(environ.get(REQUESTS) or DEFAULT_REQUESTS)


def from_environment(scratch: Path, environ: Mapping[str, str] = os.environ) -> FuzzSettings:
    """The settings; the run's folder is ``scratch`` unless ``MELTPROOF_FUZZ_OUT`` names a
    folder to keep it in."""
    out = environ.get(OUT)
    run_dir = Path(out) / f"run-{datetime.now(UTC):%Y%m%d-%H%M%S}" if out else scratch
    run_dir.mkdir(parents=True, exist_ok=True)
    return FuzzSettings(
        requests=requested_count(environ),
        seed=int(environ.get(SEED) or DEFAULT_SEED),
        run_dir=run_dir.resolve(),
    )
