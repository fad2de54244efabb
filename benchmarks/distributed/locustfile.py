"""Runs only inside Locust's processes: replays a meltproof workload open-loop.

Never import this module anywhere else: importing Locust monkey-patches the standard
library for gevent, which breaks asyncio. ``launch`` runs ``locust -f`` on this file.

Locust's users are closed-loop (each waits for an answer before its next request), so they
do not pace anything here. Each worker runs a single ``Replay`` user, which sends the
worker's share of the schedule (rows with ``row % workers == index``) once: it sleeps until
each row's intended time and spawns a greenlet per request, which never blocks it. Latency
counts from the intended time; outcomes follow ``benchmarks.engine``'s rules (2xx with a
well-formed body ok; an error status, a refused or cut connection or a malformed body fail;
a client timeout info).

The run, in custom Locust messages:

1. Once every expected worker is connected, the master reads the workload file and sends
   each worker ``meltproof_plan``: the workload, the worker's index, the worker count and
   the target. A worker on another machine needs no file of its own.
2. Each worker builds its share of the schedule and answers ``meltproof_ready``.
3. When all are ready the master sends ``meltproof_go``: a wall-clock start time a margin
   ahead, every worker's time zero. Machines must be NTP-synced: a worker's clock offset
   shifts its sends and shows up as schedule lag.
4. Workers send what they measured in batches (``meltproof_ops``), then ``meltproof_done``
   with their inter-token gaps. The master appends each to its results file (the format is
   in ``convert``) and quits when every worker is done, or gives up at a deadline.
"""

from __future__ import annotations

import errno
import json
import logging
import math
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import gevent
import numpy as np
import numpy.typing as npt
from gevent.event import AsyncResult, Event
from gevent.pool import Group
from geventhttpclient import HTTPClient
from geventhttpclient.response import (
    HTTPConnectionClosed,
    HTTPParseError,
    HTTPSocketPoolResponse,
)
from locust import User, events, task
from locust.argument_parser import LocustArgumentParser
from locust.env import Environment
from locust.exception import StopUser
from locust.rpc.protocol import Message
from locust.runners import MasterRunner, WorkerRunner

from benchmarks.endpoints import endpoint
from benchmarks.history import without_api_keys
from benchmarks.op import OP_DTYPE, SCHEDULE_COLUMNS, ErrorKind, Outcome
from benchmarks.open_files import CLIENT_ERRNOS, connection_cap
from benchmarks.recording import OpRecorder, body_facts, now, status_outcome, streams
from benchmarks.response import BodyFacts, HeaderFacts, ProtocolError, StreamReader
from benchmarks.workload import Workload


PLAN = "meltproof_plan"
READY = "meltproof_ready"
GO = "meltproof_go"
OPS = "meltproof_ops"
DONE = "meltproof_done"

FLUSH_INTERVAL_S = 0.5
"""How often a worker sends the rows it finished."""
READY_TIMEOUT_S = 60.0
"""The master gives up if the workers are not all ready this long after the plan."""
EXIT_CANNOT_RUN = 3

FINISH_GRACE_S = 10.0
"""Beyond the last request's timeout, before the master gives up on silent workers."""

MEASURED_COLUMNS = tuple(name for name in OP_DTYPE.names or () if name not in SCHEDULE_COLUMNS)
"""What a worker measures and sends; the rest comes from the schedule (as in ``convert``)."""
_CONNECT_ERRNOS = frozenset({errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH})
_logger = logging.getLogger(__name__)


@events.init_command_line_parser.add_listener
def _add_arguments(parser: LocustArgumentParser) -> None:
    """The master's options; workers get everything they need in the plan message.

    Locust forwards custom options to its workers with msgpack: only plain types (no Path).
    """
    options: tuple[tuple[str, type, str], ...] = (
        ("--meltproof-workload", str, "JSON file of Workload.to_dict()"),
        ("--meltproof-duration", float, "seconds of schedule"),
        ("--meltproof-url", str, "base URL of the target"),
        ("--meltproof-results", str, "where the master writes the results (must not exist)"),
        ("--meltproof-timeout", float, "seconds before a request counts as timed out"),
        ("--meltproof-start-margin", float, "seconds between all ready and time zero"),
    )
    for flag, kind, help_text in options:
        parser.add_argument(flag, type=kind, help=help_text, include_in_web_ui=False)
    parser.add_argument(
        "--meltproof-api-key",
        env_var="MELTPROOF_API_KEY",
        help="API key for tenants without their own",
        include_in_web_ui=False,
    )


@events.init.add_listener
def _on_init(environment: Environment, **_kwargs: Any) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        _Master(environment, runner, _MasterOptions.parse(environment))
    elif isinstance(runner, WorkerRunner):
        Replay.worker = _Worker(runner)
    else:
        raise SystemExit(
            "this locustfile runs distributed only: use python -m benchmarks.distributed.launch"
        )


class Replay(User):
    """The one user of a worker: replays the worker's share of the schedule once, then stops."""

    worker: ClassVar[_Worker | None] = None

    @task
    def replay(self) -> None:
        """Wait for the plan and the start, send the share, stop."""
        if self.worker is not None:
            self.worker.replay_once()
        raise StopUser


@dataclass(frozen=True)
class _MasterOptions:
    workload: Workload
    duration_s: float
    target: Mapping[str, Any]
    """``Target`` fields, as the plan sends them."""
    results: Path
    start_margin_s: float

    @classmethod
    def parse(cls, environment: Environment) -> _MasterOptions:
        options = vars(environment.parsed_options)
        names = ("workload", "duration", "url", "results", "timeout", "start_margin")
        missing = [n for n in names if options.get(f"meltproof_{n}") is None]
        if missing:
            flags = ", ".join(f"--meltproof-{n.replace('_', '-')}" for n in missing)
            raise SystemExit(f"the meltproof master needs {flags}")
        workload = Workload.from_dict(json.loads(Path(options["meltproof_workload"]).read_text()))
        for share in workload.endpoints:
            endpoint(share.name)  # an unknown endpoint fails here, not on every worker
        target = {
            "base_url": str(options["meltproof_url"]),
            "timeout_s": float(options["meltproof_timeout"]),
            "api_key": options.get("meltproof_api_key") or None,
        }
        return cls(
            workload=workload,
            duration_s=float(options["meltproof_duration"]),
            target=target,
            results=Path(options["meltproof_results"]),
            start_margin_s=float(options["meltproof_start_margin"]),
        )


class _Master:
    """Hands out the plan, starts every worker on one instant, writes what they measured."""

    def __init__(
        self, environment: Environment, runner: MasterRunner, options: _MasterOptions
    ) -> None:
        self._environment = environment
        self._runner = runner
        self._options = options
        self._results = options.results.open("x")
        self._workers: tuple[str, ...] = ()
        self._fingerprints: list[str] = []
        self._ready: set[int] = set()
        self._done: set[int] = set()
        self._started = False
        self._deadline = math.inf
        environment.events.test_start.add_listener(self._on_test_start)
        runner.register_message(READY, self._on_ready)
        runner.register_message(OPS, self._on_ops)
        runner.register_message(DONE, self._on_done)

    def _on_test_start(self, **_kwargs: Any) -> None:
        if self._workers:
            return  # Locust restarts the test when workers come and go; the plan stands
        self._workers = tuple(sorted(node.id for node in self._runner.clients.ready))
        users = getattr(self._environment.parsed_options, "num_users", None)
        if users != len(self._workers):
            _logger.error(f"run with --users {len(self._workers)} (one per worker), not {users}")
        options = self._options
        plan = {
            "workers": len(self._workers),
            "duration_s": options.duration_s,
            "target": dict(options.target),
            "workload": options.workload.to_dict(),
        }
        self._write("plan", _without_api_keys(plan))
        schedule = options.workload.schedule(options.duration_s)
        count = len(self._workers)
        self._fingerprints = [schedule.slice_for(i, count).fingerprint() for i in range(count)]
        for index, client_id in enumerate(self._workers):
            self._runner.send_message(PLAN, {**plan, "index": index}, client_id)
        self._deadline = time.time() + READY_TIMEOUT_S
        gevent.spawn(self._watch)

    def _on_ready(self, msg: Message, **_kwargs: Any) -> None:
        worker = int(msg.data["worker"])
        if msg.data["fingerprint"] != self._fingerprints[worker]:
            _logger.error(
                f"worker {worker} built a different schedule from the same workload; "
                "run the same meltproof version on every machine"
            )
            self._finish(EXIT_CANNOT_RUN)
            return
        self._ready.add(worker)
        if len(self._ready) < len(self._workers) or self._started:
            return
        self._started = True
        options = self._options
        start_at = time.time() + options.start_margin_s
        self._write("start", {"started_at": start_at})
        for client_id in self._workers:
            self._runner.send_message(GO, {"start_at": start_at}, client_id)
        timeout_s = float(options.target["timeout_s"])
        self._deadline = start_at + options.duration_s + timeout_s + FINISH_GRACE_S

    def _on_ops(self, msg: Message, **_kwargs: Any) -> None:
        self._write("ops", msg.data)

    def _on_done(self, msg: Message, **_kwargs: Any) -> None:
        self._write("done", msg.data)
        self._done.add(int(msg.data["worker"]))
        if len(self._done) == len(self._workers):
            self._finish(0)

    def _watch(self) -> None:
        while not self._results.closed:
            if time.time() > self._deadline:
                silent = sorted(set(range(len(self._workers))) - self._done)
                _logger.error(f"giving up on workers {silent}: no answer before the deadline")
                self._finish(1)
            gevent.sleep(1.0)

    def _write(self, kind: str, record: Mapping[str, Any]) -> None:
        if not self._results.closed:
            self._results.write(json.dumps({"kind": kind, **record}, allow_nan=False) + "\n")
            self._results.flush()

    def _finish(self, exit_code: int) -> None:
        if self._results.closed:
            return
        self._results.close()
        self._environment.process_exit_code = exit_code
        gevent.spawn(self._runner.quit)


@dataclass(frozen=True)
class _Share:
    """One worker's part of the run, as the master's plan describes it."""

    index: int
    workers: int
    workload: Workload
    duration_s: float
    base_url: str
    timeout_s: float
    api_key: str | None

    @classmethod
    def from_plan(cls, data: Mapping[str, Any]) -> _Share:
        target = data["target"]
        return cls(
            index=int(data["index"]),
            workers=int(data["workers"]),
            workload=Workload.from_dict(data["workload"]),
            duration_s=float(data["duration_s"]),
            base_url=str(target["base_url"]),
            timeout_s=float(target["timeout_s"]),
            api_key=target["api_key"],
        )


class _Worker:
    """A worker's side of the messages; its user replays the share once the master says go."""

    def __init__(self, runner: WorkerRunner) -> None:
        self._runner = runner
        self._replay: AsyncResult = AsyncResult()
        self._start_at: AsyncResult = AsyncResult()
        self._claimed = False
        runner.register_message(PLAN, self._on_plan, concurrent=True)
        runner.register_message(GO, self._on_go)

    def _on_plan(self, msg: Message, **_kwargs: Any) -> None:
        share = _Share.from_plan(msg.data)
        replay = _Replay(share, self._runner.send_message)
        self._replay.set(replay)
        ready = {"worker": share.index, "fingerprint": replay.schedule.fingerprint()}
        self._runner.send_message(READY, ready)

    def _on_go(self, msg: Message, **_kwargs: Any) -> None:
        self._start_at.set(float(msg.data["start_at"]))

    def replay_once(self) -> None:
        """Send this worker's share, the first time only (a second user must not resend it)."""
        if self._claimed:
            return
        self._claimed = True
        replay: _Replay = self._replay.get()
        replay.run(float(self._start_at.get()))


class _Replay:
    """Sends one worker's share of the schedule open-loop, recording like the engine."""

    def __init__(self, share: _Share, send: Callable[[str, Any], None]) -> None:
        self._share = share
        self._send = send
        workload = share.workload
        schedule = workload.schedule(share.duration_s).slice_for(share.index, share.workers)
        self.schedule = schedule
        self._recorder = OpRecorder(workload, schedule, api_key=share.api_key)
        self._path_prefix = urlsplit(share.base_url).path.rstrip("/")
        self._client = HTTPClient.from_url(
            share.base_url,
            concurrency=connection_cap(None),
            connection_timeout=share.timeout_s,
            network_timeout=share.timeout_s,
        )
        self._finished_rows: list[int] = []
        self._zero = 0.0
        self._all_done = Event()

    def run(self, start_at: float) -> None:
        """Send every row on time from wall-clock ``start_at``; report to the master."""
        self._zero = now() + (start_at - time.time())
        requests = Group()
        reporter = gevent.spawn(self._report_until_done)
        try:
            self._pace(requests)
            requests.join()
        finally:
            self._all_done.set()
            reporter.join()
            self._client.close()
        done = {"worker": self._share.index, "itl_hdr": self._recorder.itl().encode()}
        self._send(DONE, done)

    def _now(self) -> float:
        return now() - self._zero

    def _pace(self, requests: Group) -> None:
        intended = self.schedule.intended_s.tolist()
        index, count = 0, len(intended)
        while index < count:
            current = self._now()
            while index < count and intended[index] <= current:
                requests.spawn(self._one, index)
                index += 1
            if index < count:
                gevent.sleep(max(0.0, intended[index] - self._now()))

    def _report_until_done(self) -> None:
        while not self._all_done.wait(FLUSH_INTERVAL_S):
            self._report()
        self._report()

    def _report(self) -> None:
        """Send the rows finished since the last report; NaN travels as null."""
        finished, self._finished_rows = self._finished_rows, []
        if not finished:
            return
        batch = self._recorder.ops[np.asarray(finished)]
        columns = {name: _plain(batch[name]) for name in ("row", *MEASURED_COLUMNS)}
        models = list(self._recorder.models)
        self._send(OPS, {"worker": self._share.index, "models": models, "columns": columns})

    def _one(self, index: int) -> None:
        recorder = self._recorder
        recorder.sent(index, self._now())
        request = recorder.request(index)
        status = 0
        headers_read = False
        deadline = gevent.Timeout(self._share.timeout_s)
        deadline.start()
        try:
            response = self._client.request(
                request.method,
                self._path_prefix + request.path,
                body=request.body,
                headers=dict(request.headers),
            )
            try:
                recorder.first_byte(index, self._now())
                headers_read = True
                status = response.status_code
                flags = HeaderFacts.read({name.lower(): value for name, value in response.items()})
                if streams(request, status):
                    facts = self._read_stream(response, index)
                else:
                    facts = body_facts(status, response.read())
            finally:
                response.release()
            recorder.answered(index, flags, facts)
            outcome, error = status_outcome(status)
        except gevent.Timeout as exc:
            if exc is not deadline:
                raise
            outcome, error = Outcome.INFO, ErrorKind.TIMEOUT
        except Exception as exc:  # noqa: BLE001 - every request ends with a recorded outcome
            outcome, error = _classify(exc, headers_read=headers_read)
        finally:
            deadline.cancel()
        recorder.ended(index, self._now(), status=status, outcome=outcome, error=error)
        self._finished_rows.append(index)

    def _read_stream(self, response: HTTPSocketPoolResponse, index: int) -> BodyFacts:
        reader = StreamReader()
        while line := response.readline(b"\n"):
            reader.feed(line, self._now())
        if rest := response.read():  # a last line without a newline
            reader.feed(rest, self._now())
        facts = reader.finish()
        self._recorder.streamed(index, reader, facts)
        return facts


def _without_api_keys(plan: Mapping[str, Any]) -> dict[str, Any]:
    """The plan as the results file keeps it: API keys never reach the disk."""
    target = {**plan["target"], "api_key": None}
    return {**plan, "target": target, "workload": without_api_keys(dict(plan["workload"]))}


def _classify(exc: Exception, *, headers_read: bool) -> tuple[Outcome, ErrorKind]:
    """The outcome of a request that raised ``exc``, by the engine's rules."""
    if isinstance(exc, TimeoutError):
        return Outcome.INFO, ErrorKind.TIMEOUT
    if isinstance(exc, HTTPConnectionClosed):
        return Outcome.FAIL, ErrorKind.DISCONNECT
    if isinstance(exc, HTTPParseError):  # a cut body is a disconnect, bad headers a protocol error
        return Outcome.FAIL, ErrorKind.DISCONNECT if headers_read else ErrorKind.PROTOCOL
    if isinstance(exc, ProtocolError | ValueError):
        return Outcome.FAIL, ErrorKind.PROTOCOL
    if isinstance(exc, OSError):
        return _classify_os_error(exc)
    _logger.error("request failed inside the load generator", exc_info=exc)
    return Outcome.INFO, ErrorKind.INTERNAL


def _classify_os_error(exc: OSError) -> tuple[Outcome, ErrorKind]:
    """This machine's limits (unknown outcome), a connection not made, or one that broke."""
    if exc.errno in CLIENT_ERRNOS:
        return Outcome.INFO, ErrorKind.CLIENT
    if isinstance(exc, socket.gaierror) or exc.errno in _CONNECT_ERRNOS:
        return Outcome.FAIL, ErrorKind.CONNECT
    return Outcome.FAIL, ErrorKind.DISCONNECT


def _plain(column: npt.NDArray[Any]) -> list[Any]:
    """A column as a list of Python values, with None for NaN (JSON has no NaN)."""
    if column.dtype.kind != "f":
        return list(column.tolist())
    values = column.astype(object)
    values[np.isnan(column)] = None
    return list(values.tolist())
