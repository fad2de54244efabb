"""How ``meltproof fault`` finds the running ``meltproof up`` and talks to its fault control.

The run dir is the one given, else the most recent ``.meltproof/runs/*`` (below the current
directory) whose ``control.json`` names a live ``up`` process. Errors:

    FaultClientError
    ├── NoRunningStackError   no ``meltproof up`` serves faults there
    └── FaultRefusedError     the endpoint refused (``status``), did not answer, or gave an
                              answer that is not its own (None)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from stack.http_json import JsonApiClient
from stack.pids import pid_alive

from .active_faults import ActiveFault, Added
from .fault_control import CONTROL_FILE, AddFault, ControlFile, validation_problems


RUNS_DIR = Path(".meltproof") / "runs"
TIMEOUT_S = 120.0
"""A heal may restart PostgreSQL, and ``up`` acts on one fault at a time."""


class FaultClientError(Exception):
    """Base class of the errors of ``meltproof fault``'s client."""


class NoRunningStackError(FaultClientError):
    """No running ``meltproof up`` was found."""


class FaultRefusedError(FaultClientError):
    """The fault control refused a request (``status``), did not answer, or answered what it
    never answers (None)."""

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
    if not pid_alive(control.pid):
        raise NoRunningStackError(
            f"{run_dir}: its `meltproof up` (pid {control.pid}) is no longer running"
        )
    return control


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


class FaultControlClient(JsonApiClient):
    """The fault control of the running ``up`` of ``run_dir``."""

    def __init__(
        self, run_dir: Path, control: ControlFile, *, timeout_s: float = TIMEOUT_S
    ) -> None:
        super().__init__(control.url, timeout_s=timeout_s)
        self.run_dir = run_dir
        self.control = control

    def add(self, order: AddFault) -> Added:
        """Inject a fault."""
        answer = self._answer(_AddedAnswer, "POST", "/faults", order.model_dump(mode="json"))
        return Added(answer.fault, answer.replaced)

    def active(self) -> list[ActiveFault]:
        """The active faults, oldest first."""
        return self._answer(_FaultsAnswer, "GET", "/faults").faults

    def clear(self, name: str) -> ActiveFault:
        """Heal one fault."""
        return self._answer(_FaultAnswer, "DELETE", "/faults/" + quote(name, safe="")).fault

    def clear_all(self) -> list[ActiveFault]:
        """Heal every fault; those whose heal failed carry ``error``."""
        return self._answer(_FaultsAnswer, "DELETE", "/faults").faults

    def _answer(
        self, shape: type[_Answer], method: str, path: str, body: dict[str, Any] | None = None
    ) -> _Answer:
        """The answer to a request, read as ``shape``; ``FaultRefusedError`` if it is not."""
        answer = self._request(method, path, body)
        try:
            return shape.model_validate(answer)
        except ValidationError as exc:
            problems = "; ".join(validation_problems(exc))
            raise self._unanswered(
                method, self.base_url + path, f"an unexpected answer: {problems}"
            ) from None

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.control.token}"}

    def _refused(self, method: str, url: str, status: int, text: str) -> Exception:  # noqa: ARG002 - the base's signature
        """The ``error`` of an error answer (it names the fault), else its status and text."""
        try:
            return FaultRefusedError(status, str(json.loads(text)["error"]))
        except (ValueError, KeyError, TypeError):
            return FaultRefusedError(status, f"HTTP {status}: {text}")

    def _unanswered(self, method: str, url: str, reason: str) -> Exception:
        who = f"the fault control of `meltproof up` (pid {self.control.pid})"
        return FaultRefusedError(None, f"{who}: {method} {url}: {reason}")


_Answer = TypeVar("_Answer", bound=BaseModel)


class _FaultAnswer(BaseModel):
    fault: ActiveFault


class _FaultsAnswer(BaseModel):
    faults: list[ActiveFault]


class _AddedAnswer(BaseModel):
    fault: ActiveFault
    replaced: ActiveFault | None
