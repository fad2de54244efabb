"""Run a load plan on a Locust master and workers, from an asyncio process.

``run_locust`` writes the plan for the master (its secrets go in the master's environment,
see ``wire``), starts ``locust --master`` and the local ``locust --worker`` processes (see
``locustfile``) and says the command line that workers on other machines must run. It follows
the master's results file: once the master has set the start, ``on_start`` gets that time
zero (wall clock, as ``benchmarks.runner.run_load`` gives it) and ``progress`` gets live
counts. Every process it started is stopped when the run ends, fails or is cancelled (Ctrl-C
cancels it), and it returns what the master collected (see ``convert``).

The work directory gets ``plan.json``, ``results.jsonl`` and ``logs/`` (one log per process).
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import itertools
import math
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.engine import PROGRESS_EVERY_S, Progress
from benchmarks.plan import LoadPlan, LoadResult
from benchmarks.processes import GeneratorProcessError
from stack.process import ManagedProcess

from .convert import Collected, ResultsError, read_results
from .follow import ResultsFollower
from .wire import API_KEY_VARIABLE, TENANT_KEYS_VARIABLE, write_plan


LOCUSTFILE = Path(__file__).with_name("locustfile.py")
PLAN_FILE = "plan.json"
RESULTS_FILE = "results.jsonl"
LOGS_DIR = "logs"
LOOPBACK = "127.0.0.1"
START_MARGIN_S = 1.0
"""Between every worker being ready and time zero."""
SLACK_S = 60.0
"""Beyond the run's length, before a master that does not finish is stopped."""
WORKER_EXIT_S = 10.0
"""How long local workers get to quit on their own once the master is done."""
STOP_TIMEOUT_S = 10.0
"""How long a process gets to stop once asked, before it is killed."""
POLL_S = 0.05
"""How often the results file is read; time zero is a start margin ahead when it appears."""
_SECRET_VARIABLES = frozenset({API_KEY_VARIABLE, TENANT_KEYS_VARIABLE})


class DistributedRunError(GeneratorProcessError):
    """The Locust run could not start or did not finish; the message says where to look."""


@dataclass(frozen=True)
class LocustEngine:
    """Load from Locust workers: ``local_workers`` started here, ``remote_workers`` joining
    from other machines with the command line the run prints."""

    local_workers: int = 1
    remote_workers: int = 0
    master_host: str = LOOPBACK
    """The address the master binds: remote workers need one they reach (0.0.0.0: all)."""
    master_port: int | None = None
    """None: a free port."""
    wait_for_workers_s: int = 60
    """How long the master waits for every worker to connect."""

    def __post_init__(self) -> None:
        if self.local_workers < 0 or self.remote_workers < 0:
            raise ValueError("worker counts cannot be negative")
        if self.workers < 1:
            raise ValueError("need at least one worker, local or remote")
        if self.master_port is not None and not 0 < self.master_port < 1 << 16:
            raise ValueError(f"master_port must be a TCP port, got {self.master_port}")
        if self.wait_for_workers_s < 1:
            raise ValueError(f"wait_for_workers_s must be >= 1, got {self.wait_for_workers_s}")

    @property
    def workers(self) -> int:
        """Every worker, local and remote."""
        return self.local_workers + self.remote_workers


def worker_command(
    master_host: str, master_port: int, *, locustfile: str = "-", python: str = "python"
) -> list[str]:
    """A worker's command line; ``-f -`` fetches the locustfile from the master."""
    return [
        python, "-m", "locust", "--worker", "--master-host", master_host,
        "--master-port", str(master_port), "-f", locustfile,
    ]  # fmt: skip


async def run_locust(
    plan: LoadPlan,
    engine: LocustEngine,
    work_dir: Path,
    *,
    progress: Progress | None = None,
    on_start: Callable[[float], None] | None = None,
    say: Callable[[str], None] = lambda _line: None,
    start_margin_s: float = START_MARGIN_S,
) -> Collected:
    """Send ``plan`` from ``engine``'s workers; what the master collected, with ``plan``.

    ``plan.processes`` is replaced by the number of workers. Requests that no worker reported
    stay pending, and ``say`` tells so; a run that cannot start or finish raises
    ``DistributedRunError``.
    """
    processes = _prepare(plan, engine, work_dir, start_margin_s)
    master, local = processes.master, processes.local
    longest_s = engine.wait_for_workers_s + start_margin_s + plan.duration_s + SLACK_S
    deadline = time.monotonic() + longest_s + plan.target.timeout_s
    results, logs = work_dir / RESULTS_FILE, work_dir / LOGS_DIR
    try:
        with ResultsFollower(results, plan.workload.schedule(plan.duration_s)) as follower:
            master.spawn()
            for process in local:
                process.spawn()
            if engine.remote_workers:
                _say_remote(engine, processes.port, say)
            await _follow(master, follower, deadline, on_start, progress)
        await _exit_quietly(local, WORKER_EXIT_S)
    except ResultsError as exc:
        raise DistributedRunError(f"{exc}; the logs are in {logs}") from None
    finally:
        await stop_all([*local, master], timeout_s=STOP_TIMEOUT_S)
    try:
        collected = await asyncio.to_thread(read_results, results)
    except ResultsError as exc:
        raise DistributedRunError(
            f"{exc}\nthe master exited with code {master.exit_code()}; last lines of its log:\n"
            f"{master.log_tail()}\nall logs are in {logs}"
        ) from None
    say(collected.problems() or f"all {len(collected.result.table):,} requests reported")
    measured = collected.result
    result = LoadResult(
        dataclasses.replace(plan, processes=measured.plan.processes),
        measured.table,
        measured.itl,
        measured.started_at,
    )
    return dataclasses.replace(collected, result=result)


@dataclass(frozen=True)
class _Processes:
    master: ManagedProcess
    local: list[ManagedProcess]
    port: int


def _prepare(
    plan: LoadPlan, engine: LocustEngine, work_dir: Path, start_margin_s: float
) -> _Processes:
    """Write the plan into a fresh ``work_dir`` and set up (not start) the processes."""
    work_dir.mkdir(parents=True, exist_ok=True)
    if (work_dir / RESULTS_FILE).exists():
        raise FileExistsError(f"{work_dir / RESULTS_FILE} exists; runs are never overwritten")
    port = engine.master_port or _free_port(engine.master_host)
    environ = {k: v for k, v in os.environ.items() if k not in _SECRET_VARIABLES}
    secrets = write_plan(dataclasses.replace(plan, processes=engine.workers), work_dir / PLAN_FILE)
    options = {
        "--master-bind-host": engine.master_host,
        "--master-bind-port": str(port),
        "--expect-workers": str(engine.workers),
        "--expect-workers-max-wait": str(engine.wait_for_workers_s),
        "--users": str(engine.workers),
        "--spawn-rate": str(engine.workers),
        "--meltproof-plan": str((work_dir / PLAN_FILE).resolve()),
        "--meltproof-results": str((work_dir / RESULTS_FILE).resolve()),
        "--meltproof-start-margin": repr(start_margin_s),
    }
    master = ManagedProcess(
        "locust master",
        [
            *(sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)),
            *("--master", "--headless", "--only-summary"),
            *itertools.chain.from_iterable(options.items()),
        ],
        log_path=work_dir / LOGS_DIR / "master.log",
        env=environ | secrets,
    )
    here = LOOPBACK if _wildcard(engine.master_host) else engine.master_host
    local = [
        ManagedProcess(
            f"locust worker {i}",
            worker_command(here, port, locustfile=str(LOCUSTFILE), python=sys.executable),
            log_path=work_dir / LOGS_DIR / f"worker-{i}.log",
            env=environ,
        )
        for i in range(engine.local_workers)
    ]
    return _Processes(master, local, port)


def _say_remote(engine: LocustEngine, port: int, say: Callable[[str], None]) -> None:
    host = engine.master_host
    address = "<this machine's address>" if _wildcard(host) else host
    say(
        f"waiting {engine.wait_for_workers_s} s for {engine.remote_workers} worker(s) from other "
        "machines; on each (meltproof[locust] installed, clock synced by NTP), run:"
    )
    say("  " + " ".join(worker_command(address, port)))
    if _loopback(host):
        say(
            f"the master listens on {host} only, which other machines cannot reach: give it "
            "an address they can (0.0.0.0 for every interface)"
        )


async def _follow(
    master: ManagedProcess,
    follower: ResultsFollower,
    deadline: float,
    on_start: Callable[[float], None] | None,
    progress: Progress | None,
) -> None:
    """Until the master exits: time zero to ``on_start`` once, live counts to ``progress``."""
    announced = False
    shown_at = -PROGRESS_EVERY_S
    while True:
        running = master.exit_code() is None
        follower.read()
        if follower.started_at is not None and not announced:
            announced = True
            if on_start:
                on_start(follower.started_at)
        due = not running or time.monotonic() - shown_at >= PROGRESS_EVERY_S
        if announced and progress and due:
            shown_at = time.monotonic()
            progress(follower.live)
        if not running:
            return
        if time.monotonic() > deadline:
            raise DistributedRunError(
                f"the master did not finish in time; last lines of its log:\n{master.log_tail()}"
            )
        await asyncio.sleep(POLL_S)


async def _exit_quietly(processes: Sequence[ManagedProcess], grace_s: float) -> None:
    for _ in range(math.ceil(grace_s / POLL_S)):
        if all(p.exit_code() is not None for p in processes):
            return
        await asyncio.sleep(POLL_S)


async def stop_all(processes: Sequence[ManagedProcess], *, timeout_s: float) -> None:
    """Ask every process to stop at once, then, beside the event loop, wait up to ``timeout_s``
    for all of them together and kill those left: about one timeout, however many there are.

    Every one is asked before the first wait, and the wait goes on if the caller is cancelled
    meanwhile: the processes are stopped before the cancellation goes on."""
    for process in processes:
        process.send_signal(signal.SIGCONT)  # a frozen process cannot act on the stop signal
        process.send_signal(signal.SIGTERM)
    stopping = asyncio.ensure_future(asyncio.to_thread(_stop_or_kill, processes, timeout_s))
    try:
        await asyncio.shield(stopping)
    except asyncio.CancelledError:
        await asyncio.wait([stopping])
        raise


def _stop_or_kill(processes: Sequence[ManagedProcess], timeout_s: float) -> None:
    """Wait up to ``timeout_s`` for ``processes`` to exit; kill and reap those that did not."""
    deadline = time.monotonic() + timeout_s
    while any(p.running() for p in processes) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    for process in processes:
        process.kill()


def _wildcard(host: str) -> bool:
    return host in {"", "0.0.0.0", "::", "*"}  # noqa: S104 - recognised, not bound


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind(("" if _wildcard(host) else host, 0))
        return int(sock.getsockname()[1])
