"""The worker's side of a distributed run; runs only inside Locust's processes (``locustfile``).

A worker gets its index and the plan from the master, builds its share of the schedule (rows
with ``row % workers == index``) and says it is ready; from the master's time zero its user
sends the share once, open-loop: it sleeps until each row's intended time and spawns a
greenlet per request, which never blocks it. Latency counts from the intended time; outcomes
follow ``benchmarks.engine``'s rules (2xx with a well-formed body ok; an error status, a
refused or cut connection or a malformed body fail; a client timeout info). What it measured
goes to the master in batches while it runs.
"""

from __future__ import annotations

import errno
import logging
import socket
import time
from collections.abc import Callable
from typing import Any
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
from locust.rpc.protocol import Message
from locust.runners import WorkerRunner

from benchmarks.distributed.wire import (
    DONE,
    GO,
    MEASURED_COLUMNS,
    OPS,
    PLAN,
    READY,
    plan_from_dict,
)
from benchmarks.op import ErrorKind, Outcome
from benchmarks.open_files import CLIENT_ERRNOS, connection_cap
from benchmarks.plan import LoadPlan
from benchmarks.recording import OpRecorder, body_facts, now, status_outcome, streams
from benchmarks.response import BodyFacts, HeaderFacts, ProtocolError, StreamReader


FLUSH_INTERVAL_S = 0.5
"""How often a worker sends the rows it finished."""

_CONNECT_ERRNOS = frozenset({errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH})
_logger = logging.getLogger(__name__)


class Worker:
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
        self._recorder = OpRecorder(
            plan.workload, schedule, api_key=target.api_key, traced=target.traceparent
        )
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
