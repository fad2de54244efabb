"""Runs only inside Locust's processes: replays a meltproof workload open-loop.

Never import this module, nor ``locust_master`` and ``locust_worker`` that it imports,
anywhere else: importing Locust monkey-patches the standard library for gevent, which breaks
asyncio. ``cluster`` runs ``locust -f`` on this file; a worker started with ``-f -`` fetches
its text from the master and imports the rest from its own meltproof installation.

Locust's users are closed-loop (each waits for an answer before its next request), so they
do not pace anything here. Each worker runs a single ``Replay`` user, which sends the
worker's share of the schedule once, open-loop (``locust_worker``).

The run, in custom Locust messages (their names are in ``wire``):

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
   worker is done, or gives up at a deadline (``locust_master``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from locust import User, events, task
from locust.argument_parser import LocustArgumentParser
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from benchmarks.distributed.locust_master import Master, MasterOptions
from benchmarks.distributed.locust_worker import Worker


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
        Master(environment, runner, MasterOptions.parse(environment))
    elif isinstance(runner, WorkerRunner):
        Replay.worker = Worker(runner)
    else:
        raise SystemExit(
            "this locustfile runs distributed only: use python -m benchmarks.distributed.launch"
        )


class Replay(User):
    """The one user of a worker: replays the worker's share of the schedule once, then stops."""

    worker: ClassVar[Worker | None] = None

    @task
    def replay(self) -> None:
        """Wait for the plan and the start, send the share, stop."""
        if self.worker is not None:
            self.worker.replay_once()
        raise StopUser
