"""How ``meltproof fault`` finds the running ``meltproof up`` and talks to its fault control.

The run dir is the one given, else the most recent ``.meltproof/runs/*`` (below the current
directory) whose ``control.json`` names a live ``up`` process. Errors:

    FaultClientError
    ├── NoRunningStackError   no ``meltproof up`` serves faults there
    └── FaultRefusedError     the endpoint refused (``status``) or did not answer (None)
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .active_faults import ActiveFault, Added
from .fault_control import CONTROL_FILE, AddFault, ControlFile


RUNS_DIR = Path(".meltproof") / "runs"
TIMEOUT_S = 120.0
"""A heal may restart PostgreSQL, and ``up`` acts on one fault at a time."""


class FaultClientError(Exception):
    """Base class of the errors of ``meltproof fault``'s client."""


class NoRunningStackError(FaultClientError):
    """No running ``meltproof up`` was found."""


class FaultRefusedError(FaultClientError):
    """The fault control refused a request (``status``), or did not answer (None)."""

    def __init__(self, status: int | None, message: str) -> None:
        self.status = status
        super().__init__(message)


def connect(run_dir: Path | None) -> FaultControlClient:
    """The fault control of the running ``up`` of ``run_dir``, else of the most recent one."""
    if run_dir is not None:
        return FaultControlClient(run_dir, _running(run_dir))
    found = sorted(RUNS_DIR.glob(f"*/{CONTROL_FILE}"), key=_mtime, reverse=True)
    for path in found:
        try:
            return FaultControlClient(path.parent, _running(path.parent))
        except NoRunningStackError:
            continue
    raise NoRunningStackError(
        f"no running `meltproof up` found in {RUNS_DIR}/ below {Path.cwd()}; start the stack"
        " with `meltproof up`, or give its run dir with --run-dir"
    )


def _running(run_dir: Path) -> ControlFile:
    try:
        control = ControlFile.read(run_dir)
    except FileNotFoundError:
        raise NoRunningStackError(
            f"{run_dir}: no {CONTROL_FILE}; this is not the run dir of a running `meltproof up`"
        ) from None
    except (OSError, ValueError) as exc:
        raise NoRunningStackError(f"{run_dir}: cannot read {CONTROL_FILE}: {exc}") from None
    if not _alive(control.pid):
        raise NoRunningStackError(
            f"{run_dir}: its `meltproof up` (pid {control.pid}) is no longer running"
        )
    return control


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process
    return True


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


class FaultControlClient:
    """The fault control of the running ``up`` of ``run_dir``."""

    def __init__(
        self, run_dir: Path, control: ControlFile, *, timeout_s: float = TIMEOUT_S
    ) -> None:
        self.run_dir = run_dir
        self.control = control
        self._timeout_s = timeout_s

    def add(self, order: AddFault) -> Added:
        """Inject a fault."""
        answer = self._request("POST", "/faults", order.model_dump(mode="json"))
        replaced = answer["replaced"]
        return Added(ActiveFault(**answer["fault"]), ActiveFault(**replaced) if replaced else None)

    def active(self) -> list[ActiveFault]:
        """The active faults, oldest first."""
        return [ActiveFault(**fault) for fault in self._request("GET", "/faults")["faults"]]

    def clear(self, name: str) -> ActiveFault:
        """Heal one fault."""
        return ActiveFault(**self._request("DELETE", "/faults/" + quote(name, safe=""))["fault"])

    def clear_all(self) -> list[ActiveFault]:
        """Heal every fault; those whose heal failed carry ``error``."""
        return [ActiveFault(**fault) for fault in self._request("DELETE", "/faults")["faults"]]

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(  # noqa: S310 - the loopback URL of our own `up`
            self.control.url + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={
                "Authorization": f"Bearer {self.control.token}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise FaultRefusedError(exc.code, _error_of(exc)) from None
        except (urllib.error.URLError, OSError) as exc:
            raise FaultRefusedError(
                None,
                f"the fault control of `meltproof up` (pid {self.control.pid}) at"
                f" {self.control.url} does not answer: {exc}",
            ) from None


def _error_of(exc: urllib.error.HTTPError) -> str:
    """The ``error`` of an error answer, else its status and text."""
    text = exc.read().decode(errors="replace")
    try:
        return str(json.loads(text)["error"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {exc.code}: {text.strip()}"
