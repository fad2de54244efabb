"""vegeta, the reference load generator: found or built, pointed at one request, its report read.

The binary, in order: ``MELTPROOF_VEGETA``, ``vegeta`` on PATH, the cached build, and last a
``go install`` of the pinned version into the meltproof cache (``stack.go_install``: built
once, file-locked, cached). The pin is what ``github.com/tsenart/vegeta/v12@latest`` resolved
to when it was chosen; the cache is keyed by version, so a pin is needed.

Latencies in vegeta's JSON report are in nanoseconds; ``VegetaReport`` holds seconds.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stack.errors import StackStartError
from stack.go_install import GoProgram, go_install_cached

from ..endpoints import HttpRequest


ENV = "MELTPROOF_VEGETA"
PROGRAM = GoProgram(
    service="vegeta",
    title="vegeta",
    package="github.com/tsenart/vegeta/v12",
    version="v12.13.0",
    command="vegeta",
    instead=f", or set {ENV} to a vegeta binary",
)
_NS = 1e-9


@dataclass(frozen=True)
class VegetaBinary:
    """A vegeta binary, where it came from, and its version."""

    path: Path
    source: str
    version: str


def find_vegeta(
    cache_dir: Path,
    *,
    environ: Mapping[str, str] = os.environ,
    on_build: Callable[[str], None] | None = None,
) -> VegetaBinary:
    """Locate vegeta, building it if needed (see the module docstring)."""
    configured = environ.get(ENV)
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise StackStartError(
                PROGRAM.service,
                f"{path} ({ENV}) does not exist",
                f"point {ENV} at a vegeta binary, or unset it",
            )
        return VegetaBinary(path, f"configured binary {path} ({ENV})", "unknown")
    on_path = shutil.which(PROGRAM.command)
    if on_path:
        return VegetaBinary(Path(on_path), f"vegeta on PATH ({on_path})", "unknown")
    cached = go_install_cached(PROGRAM, cache_dir, on_build=on_build)
    return VegetaBinary(
        cached, f"built with go install into {cached.parent.parent}", PROGRAM.version
    )


def target_line(base_url: str, request: HttpRequest) -> str:
    """``request`` as one target of vegeta's JSON format (body base64, headers as lists)."""
    return json.dumps(
        {
            "method": request.method,
            "url": base_url.rstrip("/") + request.path,
            "body": base64.b64encode(request.body).decode("ascii"),
            "header": {name: [value] for name, value in request.headers.items()},
        }
    )


@dataclass(frozen=True)
class VegetaReport:
    """What ``vegeta report -type json`` says about one attack."""

    requests: int
    rate_rps: float
    """Requests sent per second of the attack."""
    throughput_rps: float
    """Successful requests per second, until the last answer."""
    p50_s: float
    p90_s: float
    p99_s: float
    max_s: float
    mean_s: float
    status_codes: Mapping[str, int]
    errors: tuple[str, ...]
    """Distinct error messages (vegeta does not count them)."""

    @property
    def failed(self) -> int:
        """Requests without a 2xx answer (status 0: no answer at all)."""
        return sum(n for code, n in self.status_codes.items() if not code.startswith("2"))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VegetaReport:
        """Read vegeta's JSON report."""
        latencies = data["latencies"]
        return cls(
            requests=int(data["requests"]),
            rate_rps=float(data["rate"]),
            throughput_rps=float(data["throughput"]),
            p50_s=latencies["50th"] * _NS,
            p90_s=latencies["90th"] * _NS,
            p99_s=latencies["99th"] * _NS,
            max_s=latencies["max"] * _NS,
            mean_s=latencies["mean"] * _NS,
            status_codes={str(k): int(v) for k, v in (data.get("status_codes") or {}).items()},
            errors=tuple(data.get("errors") or ()),
        )


def attack(
    binary: VegetaBinary, targets: Path, *, rate_rps: int, duration_s: float, results: Path
) -> VegetaReport:
    """``vegeta attack`` at a constant rate with keep-alive, then ``vegeta report -type json``."""
    command = [
        str(binary.path), "attack", "-format=json", f"-targets={targets}",
        f"-rate={rate_rps}/1s", f"-duration={duration_s:g}s", "-keepalive=true",
        "-timeout=30s", "-max-body=0", f"-output={results}",
    ]  # fmt: skip
    _run(command, timeout_s=duration_s + 120)
    report = _run([str(binary.path), "report", "-type=json", str(results)], timeout_s=120)
    return VegetaReport.from_json(json.loads(report))


def _run(command: list[str], *, timeout_s: float) -> bytes:
    """Run vegeta; a failure shows its command and the last lines it printed."""
    try:
        done = subprocess.run(  # noqa: S603 - our arguments
            command, capture_output=True, check=False, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{' '.join(command)} did not finish in {timeout_s:g} s") from None
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-10:]
        raise RuntimeError(
            f"{' '.join(command)} exited with code {done.returncode}:\n" + "\n".join(tail)
        )
    return done.stdout
