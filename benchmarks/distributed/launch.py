"""``python -m benchmarks.distributed.launch``: a workload file's load from Locust workers.

The command line of ``cluster.run_locust``: it reads a workload file (``Workload.to_dict()``
as JSON), runs it on a Locust master and workers (on loopback, or printing the command line
for workers on other machines; they need meltproof installed with the ``locust`` extra and a
clock synced by NTP, nothing else), stores the load history and prints the summary that
``meltproof load`` prints.

The output directory gets ``logs/`` (one log per process), ``plan.json`` (the plan without
its secrets), ``results.jsonl`` (what the master collected) and ``history/`` (the load
history, as ``meltproof load`` writes it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from benchmarks.plan import LoadPlan
from benchmarks.summary_table import print_summary
from benchmarks.target import Target
from benchmarks.workload import Workload

from .cluster import LOOPBACK, DistributedRunError, LocustEngine, run_locust
from .convert import store
from .wire import API_KEY_VARIABLE


HISTORY_DIR = "history"
EXIT_INCOMPLETE = 1
EXIT_CANNOT_RUN = 3
EXIT_INTERRUPTED = 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.distributed.launch",
        description="Replay a seeded open-loop workload from Locust workers (scale-out beyond "
        "one machine) and write a meltproof load history.",
        epilog="""\
examples:
  # master and 4 workers on this machine
  python -m benchmarks.distributed.launch --url http://127.0.0.1:8080 \\
      --workload workload.json --duration 60 --workers 4 --out runs/dist
  # only the master here; 8 workers on other machines join with the printed command
  python -m benchmarks.distributed.launch --url http://gateway:8080 \\
      --workload workload.json --duration 600 --workers 0 --remote-workers 8 \\
      --master-host 0.0.0.0 --master-port 5557 --out runs/dist

The workload file is Workload.to_dict() as JSON; MELTPROOF_API_KEY is the key of tenants
without their own. Every worker starts on the same wall-clock instant, so the machines'
clocks must be synced (NTP). The summary is the one `meltproof load` prints. Exit codes:
0 every request reported, 1 some requests were not reported (a worker died), 2 a usage
error, 3 the run could not happen or the generator failed its schedule (it fell behind, or
ran out of descriptors), 130 interrupted.""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--url", required=True, help="base URL of the target, e.g. http://127.0.0.1:8080")
    add("--workload", type=Path, required=True, metavar="FILE", help="workload JSON file")
    add("--duration", type=float, required=True, metavar="SECONDS", help="length of the schedule")
    add(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="worker processes on this machine; 0 starts only the master (default: one per CPU)",
    )
    add(
        "--remote-workers",
        type=int,
        default=0,
        metavar="N",
        help="workers expected from other machines (default: %(default)s)",
    )
    add("--out", type=Path, required=True, metavar="DIR", help="output directory")
    add(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="a request not answered by then counts as timed out (default: %(default)s)",
    )
    add(
        "--master-host",
        default=LOOPBACK,
        metavar="ADDRESS",
        help="address the master binds; 0.0.0.0 for remote workers (default: %(default)s)",
    )
    add("--master-port", type=int, metavar="PORT", help="master port (default: a free one)")
    add(
        "--wait-for-workers",
        type=int,
        default=60,
        metavar="SECONDS",
        help="how long the master waits for every worker to connect (default: %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run, print the summary, and return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        engine = LocustEngine(
            local_workers=args.workers,
            remote_workers=args.remote_workers,
            master_host=args.master_host,
            master_port=args.master_port,
            wait_for_workers_s=args.wait_for_workers,
        )
        target = Target(args.url, timeout_s=args.timeout, api_key=os.environ.get(API_KEY_VARIABLE))
        plan = LoadPlan(_workload(args.workload), args.duration, target)
    except ValueError as exc:
        parser.error(str(exc))
    history_dir = args.out / HISTORY_DIR
    if history_dir.exists():
        parser.error(f"{history_dir} exists; runs are never overwritten")
    try:
        collected = asyncio.run(run_locust(plan, engine, args.out, say=_to_stderr))
    except (DistributedRunError, FileExistsError) as exc:
        _to_stderr(f"error: {exc}")
        return EXIT_CANNOT_RUN
    except KeyboardInterrupt:
        _to_stderr("interrupted; every process was stopped")
        return EXIT_INTERRUPTED
    history = store(collected, history_dir)
    console = Console(highlight=False, soft_wrap=True)
    print_summary(console, history.summary)
    console.print(f"history: {escape(str(history_dir))}")
    problem = collected.result.shortfall()
    if problem is None:
        return 0
    _to_stderr(f"error: {problem}")
    return EXIT_INCOMPLETE if collected.pending_rows else EXIT_CANNOT_RUN


def _workload(path: Path) -> Workload:
    try:
        return Workload.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the workload {path}: {exc}") from None


def _to_stderr(line: str) -> None:
    sys.stderr.write(line + "\n")


if __name__ == "__main__":
    sys.exit(main())
