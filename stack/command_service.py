"""A gateway started from a ``GatewayCommand``: placeholders filled, files written, tree guarded.

The command runs under ``stack.group_guard``, so that its whole process tree stops with the
stack, also when the harness is killed. Its stdout and stderr go to ``<log dir>/gateway.log``.
It is ready once ``GET ready_path`` answers with a status below 500.
"""

from __future__ import annotations

import os
import signal
import urllib.error
import urllib.request
from collections.abc import Mapping
from http import HTTPStatus
from pathlib import Path

from .errors import StackStartError
from .gateway_command import GatewayCommand, fill
from .ports import LOOPBACK
from .process import ManagedProcess
from .python_service import INTERPRETER
from .service import ServiceInfo


def _answers(url: str) -> bool:
    """True once ``GET url`` answers with a status below 500."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback URL
            return bool(response.status < HTTPStatus.INTERNAL_SERVER_ERROR)
    except urllib.error.HTTPError as error:
        return error.code < HTTPStatus.INTERNAL_SERVER_ERROR
    except (urllib.error.URLError, OSError):
        return False


_GUARD = (*INTERPRETER, "-m", "stack.group_guard", "--")


class CommandGateway:
    """The gateway of a ``GatewayCommand``, on ``port``, with ``values`` for its placeholders."""

    name = "gateway"

    def __init__(
        self,
        command: GatewayCommand,
        *,
        port: int,
        values: Mapping[str, str],
        run_dir: Path,
        log_dir: Path,
    ) -> None:
        self.command = command
        self.url = f"http://{LOOPBACK}:{port}"
        self._values = {**values, "port": str(port), "run_dir": str(run_dir.resolve())}
        self._run_dir = run_dir
        argv = [fill(arg, self._values) for arg in command.argv]
        env = {**os.environ, **{k: fill(v, self._values) for k, v in command.env.items()}}
        self._process = ManagedProcess(
            "gateway",
            [*_GUARD, *argv],
            log_path=log_dir / "gateway.log",
            env=env,
            death_signal=signal.SIGTERM,
            stop_timeout_s=15.0,
        )

    @property
    def argv(self) -> tuple[str, ...]:
        """The command, placeholders filled (without the guard that runs it)."""
        return self._process.argv[len(_GUARD) :]

    @property
    def headers(self) -> dict[str, str]:
        """The headers every client request carries, placeholders filled."""
        return {name: fill(value, self._values) for name, value in self.command.headers.items()}

    def launch(self) -> None:
        """Write the command's files into the run directory, then start it."""
        for name, text in self.command.files.items():
            path = self._run_dir / name
            if not path.resolve().is_relative_to(self._run_dir.resolve()):
                raise StackStartError(
                    "gateway", f"file {name!r} lies outside the run directory", "use a plain name"
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(fill(text, self._values), encoding="utf-8")
        self._process.spawn()

    def wait_ready(self, deadline: float) -> ServiceInfo:
        """Wait until the ready path answers (the command's own start timeout applies)."""
        path = "/" + self.command.ready_path.lstrip("/")
        self._process.wait_ready(lambda: _answers(self.url + path), deadline)
        return ServiceInfo(
            "gateway",
            self.url,
            f"command {self.command.name}: {' '.join(self.argv)}",
            self.command.version or "unknown version",
            self._process.pid,
        )

    def stop(self) -> None:
        """Stop the command and everything it started."""
        self._process.stop()
