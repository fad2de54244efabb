"""Our own aiohttp services (the simulated provider, the gateway) as child processes.

They run as ``python -P -m MODULE``: ``-P`` keeps the working directory off ``sys.path``, so
the code that runs is the one the environment names (a ``source`` tree on ``PYTHONPATH``, or
the installed package), never a copy that happens to lie in the directory the harness was
started from. Where the module's package was imported from is resolved by the same
interpreter with the same environment and recorded (``ServiceInfo.code_path``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from http import HTTPStatus
from importlib.metadata import version
from pathlib import Path

from .errors import StackStartError
from .ports import LOOPBACK
from .process import ManagedProcess
from .service import ServiceInfo


INTERPRETER = (sys.executable, "-P")
"""How our services' interpreter starts: the working directory stays off ``sys.path``."""
_FIND_PACKAGE = (
    "import importlib.util, pathlib, sys; "
    "print(pathlib.Path(importlib.util.find_spec(sys.argv[1]).origin).parent)"
)


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
        self._source = source.resolve() if source else None
        self.url = f"http://{LOOPBACK}:{port}"
        self._env = None
        if self._source is not None:
            paths = [str(self._source), os.environ.get("PYTHONPATH", "")]
            self._env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
        self.code_path: Path | None = None
        self._process = ManagedProcess(
            name,
            [*INTERPRETER, "-m", module, "--host", LOOPBACK, "--port", str(port), *args],
            log_path=log_dir / f"{name}.log",
            env=self._env,
        )

    def launch(self) -> None:
        """Resolve where the code comes from, then start the process with the interpreter
        that runs the harness."""
        self.code_path = self._resolve_code_path()
        self._process.spawn()

    def _resolve_code_path(self) -> Path:
        """The folder of the module's top package, as the child's interpreter will import it."""
        package = self._module.partition(".")[0]
        done = subprocess.run(  # noqa: S603 - this interpreter, our own arguments
            [*INTERPRETER, "-c", _FIND_PACKAGE, package],
            env=self._env, capture_output=True, text=True, check=False, timeout=30,
        )  # fmt: skip
        if done.returncode != 0:
            raise StackStartError(
                self.name,
                f"cannot import {package}: {done.stderr.strip()}",
                "install meltproof into this interpreter's environment",
            )
        code_path = Path(done.stdout.strip()).resolve()
        if self._source is not None and not code_path.is_relative_to(self._source):
            raise StackStartError(
                self.name,
                f"{package} would be imported from {code_path}, not from {self._source}",
                f"give a source tree that holds the {package} package",
            )
        return code_path

    def wait_ready(self, deadline: float) -> ServiceInfo:
        """Wait until /healthz answers."""
        self._process.wait_ready(lambda: _probe(f"{self.url}/healthz"), deadline)
        source = f"python -m {self._module}" + (f" from {self._source}" if self._source else "")
        return ServiceInfo(
            self.name,
            self.url,
            source,
            f"meltproof {version('meltproof')}",
            self._process.pid,
            code_path=str(self.code_path) if self.code_path else None,
        )

    def stop(self) -> None:
        """Stop the process (SIGTERM lets aiohttp finish in-flight requests)."""
        self._process.stop()
