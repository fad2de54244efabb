"""Our own aiohttp services (the simulated provider, the gateway) as child processes."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from http import HTTPStatus
from importlib.metadata import version
from pathlib import Path

from .ports import LOOPBACK
from .process import ManagedProcess
from .service import ServiceInfo


def _probe(url: str) -> bool:
    """True once ``GET url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback URL
            return bool(response.status == HTTPStatus.OK)
    except (urllib.error.URLError, OSError):
        return False


class PythonService:
    """``python -m MODULE --host 127.0.0.1 --port PORT ARGS...``, ready when /healthz answers."""

    def __init__(
        self,
        name: str,
        module: str,
        *,
        port: int,
        log_dir: Path,
        args: Sequence[str] = (),
        source: Path | None = None,
    ) -> None:
        """``source``: a source tree whose copy of ``module`` runs instead of the installed one
        (e.g. a baseline checkout); the installed packages still provide its dependencies."""
        self.name = name
        self._module = module
        self._source = source
        self.url = f"http://{LOOPBACK}:{port}"
        env = None
        if source is not None:
            paths = [str(source), os.environ.get("PYTHONPATH", "")]
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
        self._process = ManagedProcess(
            name,
            [sys.executable, "-m", module, "--host", LOOPBACK, "--port", str(port), *args],
            log_path=log_dir / f"{name}.log",
            env=env,
        )

    def launch(self) -> None:
        """Start the process with the interpreter that runs the harness."""
        self._process.spawn()

    def wait_ready(self, deadline: float) -> ServiceInfo:
        """Wait until /healthz answers."""
        self._process.wait_ready(lambda: _probe(f"{self.url}/healthz"), deadline)
        source = f"python -m {self._module}" + (f" from {self._source}" if self._source else "")
        return ServiceInfo(
            self.name, self.url, source, f"meltproof {version('meltproof')}", self._process.pid
        )

    def stop(self) -> None:
        """Stop the process (SIGTERM lets aiohttp finish in-flight requests)."""
        self._process.stop()
