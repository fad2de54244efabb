"""The loopback endpoint through which ``meltproof fault`` reaches the faults ``up`` holds.

``meltproof up`` serves it on an ephemeral loopback port and announces it in its run dir in
``control.json`` (URL, bearer token, pid; readable by its owner only), removed when ``up``
stops. Requests carry ``Authorization: Bearer TOKEN``; bodies are JSON.

======================== =====================================================================
``GET /faults``          ``{faults: [ActiveFault]}``
``POST /faults``         ``AddFault`` -> 201 ``{fault: ActiveFault, replaced: ActiveFault?}``
``DELETE /faults/NAME``  heal one -> ``{fault: ActiveFault}``
``DELETE /faults``       heal all -> ``{faults: [ActiveFault]}``, a failed heal in ``error``
======================== =====================================================================

Errors answer ``{error: message}``: 400 an invalid request, 401 a wrong token, 404 an unknown
fault or path, 409 a name taken, a component missing or ``up`` stopping, 502 an injection or
heal that failed.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import threading
from dataclasses import asdict, dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from faults import FaultActionError, FaultSpec, MissingComponentError
from stack.ports import LOOPBACK

from .active_faults import ActiveFaults, FaultConflictError, UnknownFaultError


CONTROL_FILE = "control.json"
NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
MAX_BODY_BYTES = 64 * 1024

Answer = tuple[HTTPStatus, dict[str, Any]]


class AddFault(BaseModel):
    """The body of ``POST /faults``: a fault as a scenario file writes it, a name, a limit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fault: FaultSpec
    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    """Default: the kind and target (``latency-provider``)."""
    for_s: float | None = Field(default=None, gt=0.0, allow_inf_nan=False)
    """Heal after so many seconds; None: when cleared, or when ``up`` stops."""


@dataclass(frozen=True)
class ControlFile:
    """``control.json``: where the endpoint of a running ``up`` answers, and its token."""

    url: str
    token: str
    pid: int

    def write(self, run_dir: Path) -> Path:
        """Write it into ``run_dir``, readable by its owner only."""
        path = run_dir / CONTROL_FILE
        path.unlink(missing_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(asdict(self), file)
        return path

    @classmethod
    def read(cls, run_dir: Path) -> Self:
        """The file in ``run_dir``: ``OSError`` when unreadable, ``ValueError`` when malformed."""
        data = json.loads((run_dir / CONTROL_FILE).read_text())
        try:
            return cls(url=str(data["url"]), token=str(data["token"]), pid=int(data["pid"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{run_dir / CONTROL_FILE}: not a control file: {exc}") from None


def answer(faults: ActiveFaults, method: str, path: str, body: Any) -> Answer:
    """The answer to one request (the token already checked)."""
    parts = [unquote(part) for part in urlsplit(path).path.strip("/").split("/")]
    try:
        return _act(faults, method, parts, body)
    except ValidationError as exc:
        return HTTPStatus.BAD_REQUEST, {"error": "; ".join(validation_problems(exc))}
    except (UnknownFaultError, FaultConflictError, MissingComponentError, FaultActionError) as exc:
        status = next(status for kind, status in _STATUS_OF if isinstance(exc, kind))
        return status, {"error": str(exc)}


_STATUS_OF = (
    (UnknownFaultError, HTTPStatus.NOT_FOUND),
    (FaultConflictError, HTTPStatus.CONFLICT),
    (MissingComponentError, HTTPStatus.CONFLICT),
    (FaultActionError, HTTPStatus.BAD_GATEWAY),
)


def _act(faults: ActiveFaults, method: str, parts: list[str], body: Any) -> Answer:
    match method, parts:
        case "GET", ["faults"]:
            return HTTPStatus.OK, {"faults": [asdict(f) for f in faults.active()]}
        case "POST", ["faults"]:
            order = AddFault.model_validate(body)
            added = faults.add(order.fault, name=order.name, for_s=order.for_s)
            replaced = asdict(added.replaced) if added.replaced else None
            return HTTPStatus.CREATED, {"fault": asdict(added.fault), "replaced": replaced}
        case "DELETE", ["faults"]:
            return HTTPStatus.OK, {"faults": [asdict(f) for f in faults.clear_all()]}
        case "DELETE", ["faults", name]:
            return HTTPStatus.OK, {"fault": asdict(faults.clear(name))}
    return HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: {method} /{'/'.join(parts)}"}


def validation_problems(exc: ValidationError) -> list[str]:
    """One ``field.path: message`` per problem."""
    problems = []
    for item in exc.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "(body)"
        message = "unknown field" if item["type"] == "extra_forbidden" else item["msg"]
        problems.append(f"{field}: {message}")
    return problems


class FaultControl:
    """The endpoint, served from a thread of ``up``; ``close`` heals every fault."""

    def __init__(self, faults: ActiveFaults, run_dir: Path) -> None:
        """Serve ``faults`` on loopback and write ``control.json`` into ``run_dir``."""
        self.faults = faults
        token = secrets.token_urlsafe(32)
        self._server = _Server(faults, token)
        self.url = f"http://{LOOPBACK}:{self._server.server_address[1]}"
        threading.Thread(
            target=self._server.serve_forever, name="meltproof-fault-control", daemon=True
        ).start()
        self._file = ControlFile(self.url, token, os.getpid()).write(run_dir)

    def close(self) -> None:
        """Withdraw the control file, stop serving, then heal every active fault."""
        self._file.unlink(missing_ok=True)
        self._server.shutdown()
        self._server.server_close()
        self.faults.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, faults: ActiveFaults, token: str) -> None:
        super().__init__((LOOPBACK, 0), _Handler)
        self.faults = faults
        self.token = token


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        """List."""
        self._serve()

    def do_POST(self) -> None:
        """Add."""
        self._serve()

    def do_DELETE(self) -> None:
        """Clear."""
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Quiet: ``up`` reports the faults themselves."""

    def _serve(self) -> None:
        given = self.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, f"Bearer {self.server.token}".encode()):
            self._send(HTTPStatus.UNAUTHORIZED, {"error": "wrong or missing token"})
            return
        try:
            body = self._body()
        except ValueError as exc:
            self._send(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return
        try:
            status, payload = answer(self.server.faults, self.command, self.path, body)
        except Exception as exc:  # noqa: BLE001 - the client must hear of any failure
            status, payload = HTTPStatus.INTERNAL_SERVER_ERROR, {"error": repr(exc)}
        self._send(status, payload)

    def _body(self) -> Any:
        """The JSON body (None if there is none); ``ValueError`` if too large or not JSON."""
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise ValueError(f"the body is larger than {MAX_BODY_BYTES} bytes")
        try:
            return json.loads(self.rfile.read(length)) if length else None
        except ValueError as exc:
            raise ValueError(f"the body is not JSON: {exc}") from None

    def _send(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
