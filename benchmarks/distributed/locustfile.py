"""Runs only inside Locust's processes: replays a meltproof workload open-loop.

Never import this module anywhere else: importing Locust monkey-patches the standard
library for gevent, which breaks asyncio. ``cluster`` runs ``locust -f`` on this file.

Locust's users are closed-loop (each waits for an answer before its next request), so they
do not pace anything here. Each worker runs a single ``Replay`` user, which sends the
worker's share of the schedule (rows with ``row % workers == index``) once: it sleeps until
each row's intended time and spawns a greenlet per request, which never blocks it. Latency
counts from the intended time; outcomes follow ``benchmarks.engine``'s rules (2xx with a
well-formed body ok; an error status, a refused or cut connection or a malformed body fail;
a client timeout info).

The run, in custom Locust messages:

1. Once every expected worker is connected, the master reads the plan file (and its secrets
   from the environment, see ``wire``) and sends each worker ``meltproof_plan``: the plan
   (workload, duration, target with its headers and keys, worker count) and the worker's
   index. A worker on another machine needs no file of its own.
2. Each worker builds its share of the schedule and answers ``meltproof_ready``.
3. When all are ready the master sends ``meltproof_go``: a wall-clock start time a margin
   ahead, every worker's time zero. Machines must be NTP-synced: a worker's clock offset
   shifts its sends and shows up as schedule lag.
4. Workers send what they measured in batches (``meltproof_ops``, with how many requests
   they have sent so far), then ``meltproof_done`` with their inter-token gaps. The master
   appends each to its results file (the format is in ``convert``) and quits when every
   worker is done, or gives up at a deadline.
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
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

from benchmarks.distributed.wire import plan_from_dict, plan_to_dict, read_plan, without_secrets
from benchmarks.op import OP_DTYPE, SCHEDULE_COLUMNS, ErrorKind, Outcome
from benchmarks.open_files import CLIENT_ERRNOS, connection_cap
from benchmarks.plan import LoadPlan
from benchmarks.recording import OpRecorder, body_facts, now, status_outcome, streams
from benchmarks.response import BodyFacts, HeaderFacts, ProtocolError, StreamReader


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
        ("--meltproof-plan", str, "JSON file of the plan without secrets (see wire)"),
        ("--meltproof-results", str, "where the master writes the results (must not exist)"),
        ("--meltproof-start-margin", float, "seconds between all ready and time zero"),
    )
    for flag, kind, help_text in options:
        parser.add_argument(flag, type=kind, help=help_text, include_in_web_ui=False)


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
    plan: LoadPlan
    """With its secrets; ``processes`` is the number of workers expected."""
    results: Path
    start_margin_s: float

    @classmethod
    def parse(cls, environment: Environment) -> _MasterOptions:
        options = vars(environment.parsed_options)
        names = ("plan", "results", "start_margin")
        missing = [n for n in names if options.get(f"meltproof_{n}") is None]
        if missing:
            flags = ", ".join(f"--meltproof-{n.replace('_', '-')}" for n in missing)
            raise SystemExit(f"the meltproof master needs {flags}")
        return cls(
            plan=read_plan(Path(options["meltproof_plan"]), os.environ),
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
        count = len(self._workers)
        plan = plan_to_dict(replace(self._options.plan, processes=count))
        self._write("plan", without_secrets(plan))
        schedule = self._options.plan.workload.schedule(self._options.plan.duration_s)
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
        start_at = time.time() + self._options.start_margin_s
        self._write("start", {"started_at": start_at})
        for client_id in self._workers:
            self._runner.send_message(GO, {"start_at": start_at}, client_id)
        plan = self._options.plan
        self._deadline = start_at + plan.duration_s + plan.target.timeout_s + FINISH_GRACE_S

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
        index = int(msg.data["index"])
        replay = _Replay(plan_from_dict(msg.data), index, self._runner.send_message)
        self._replay.set(replay)
        ready = {"worker": index, "fingerprint": replay.schedule.fingerprint()}
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
    """Sends worker ``index``'s share of ``plan`` open-loop, recording like the engine.

    The target's headers go with every request, as the engine's session sends them: a
    request's own headers (its tenant's key, the content type) win over them.
    """

    def __init__(self, plan: LoadPlan, index: int, send: Callable[[str, Any], None]) -> None:
        self._index = index
        self._send = send
        target = self._target = plan.target
        schedule = plan.workload.schedule(plan.duration_s).slice_for(index, plan.processes)
        self.schedule = schedule
        self._recorder = OpRecorder(plan.workload, schedule, api_key=target.api_key)
        self._path_prefix = urlsplit(target.base_url).path.rstrip("/")
        self._client = HTTPClient.from_url(
            target.base_url,
            headers=dict(target.headers),
            concurrency=connection_cap(target.max_connections),
            connection_timeout=target.timeout_s,
            network_timeout=target.timeout_s,
        )
        self._sent = 0
        self._reported_sent = 0
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
        done = {"worker": self._index, "itl_hdr": self._recorder.itl().encode()}
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
        """Send the rows finished since the last report and the count sent; NaN goes as null."""
        finished, self._finished_rows = self._finished_rows, []
        if not finished and self._sent == self._reported_sent:
            return
        self._reported_sent = self._sent
        batch = self._recorder.ops[np.asarray(finished, dtype=np.int64)]
        columns = {name: _plain(batch[name]) for name in ("row", *MEASURED_COLUMNS)}
        models = list(self._recorder.models)
        report = {"worker": self._index, "sent": self._sent, "models": models, "columns": columns}
        self._send(OPS, report)

    def _one(self, index: int) -> None:
        recorder = self._recorder
        recorder.sent(index, self._now())
        self._sent += 1
        request = recorder.request(index)
        status = 0
        headers_read = False
        deadline = gevent.Timeout(self._target.timeout_s)
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
