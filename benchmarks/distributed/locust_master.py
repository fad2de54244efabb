"""The master's side of a distributed run; runs only inside Locust's processes (``locustfile``).

Once every expected worker is connected, the master sends each one the plan and its index,
waits for all to be ready with the same schedule, sends them one wall-clock time zero, and
appends what they report to its results file (the format is in ``convert``) until every worker
is done or a deadline passes.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import gevent
from locust.env import Environment
from locust.rpc.protocol import Message
from locust.runners import MasterRunner

from benchmarks.distributed.wire import (
    DONE,
    GO,
    OPS,
    PLAN,
    READY,
    plan_to_dict,
    read_plan,
    without_secrets,
)
from benchmarks.plan import LoadPlan


READY_TIMEOUT_S = 60.0
"""The master gives up if the workers are not all ready this long after the plan."""
FINISH_GRACE_S = 10.0
"""Beyond the last request's timeout, before the master gives up on silent workers."""
EXIT_CANNOT_RUN = 3

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MasterOptions:
    """The master's ``--meltproof-*`` options, read."""

    plan: LoadPlan
    """With its secrets; ``processes`` is the number of workers expected."""
    results: Path
    start_margin_s: float

    @classmethod
    def parse(cls, environment: Environment) -> MasterOptions:
        """From Locust's parsed options; ``SystemExit`` naming those missing."""
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


class Master:
    """Hands out the plan, starts every worker on one instant, writes what they measured."""

    def __init__(
        self, environment: Environment, runner: MasterRunner, options: MasterOptions
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
        test_start = environment.events.test_start  # Locust's event hooks are untyped
        test_start.add_listener(self._on_test_start)  # type: ignore[no-untyped-call]
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
