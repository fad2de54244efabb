"""``python -m benchmarks.distributed.launch``: Locust master and workers replay a workload.

Starts ``locust --master`` and N ``locust --worker`` processes (see ``locustfile``), waits
until the master has collected every worker's results, stops every process it started (also
on errors and Ctrl-C), and converts the results into a load history. Workers on other
machines join with the command line this prints; they need meltproof installed with the
``locust`` extra and a clock synced by NTP, nothing else.

The output directory gets ``logs/`` (one log per process), ``results.jsonl`` (what the
master collected) and ``history/`` (the load history, as ``meltproof load`` writes it).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.endpoints import endpoint
from benchmarks.history import read_history
from benchmarks.target import Target
from benchmarks.workload import Workload
from stack.process import ManagedProcess

from .convert import ResultsError, convert_results


LOCUSTFILE = Path(__file__).with_name("locustfile.py")
RESULTS_FILE = "results.jsonl"
HISTORY_DIR = "history"
LOGS_DIR = "logs"
LOOPBACK = "127.0.0.1"
API_KEY_VARIABLE = "MELTPROOF_API_KEY"
"""The key for tenants without their own; kept out of command lines."""
START_MARGIN_S = 1.0
"""Between every worker being ready and time zero."""
SLACK_S = 60.0
"""Beyond the run's length, before the launcher stops a master that does not finish."""
WORKER_EXIT_S = 10.0
"""How long local workers get to quit on their own once the master is done."""
EXIT_INCOMPLETE = 1
EXIT_CANNOT_RUN = 3


class DistributedRunError(Exception):
    """The distributed run could not start or did not finish; the message says where to look."""


def worker_command(
    master_host: str, master_port: int, *, locustfile: str = "-", python: str = "python"
) -> list[str]:
    """A worker's command line; ``-f -`` fetches the locustfile from the master."""
    return [
        python, "-m", "locust", "--worker", "--master-host", master_host,
        "--master-port", str(master_port), "-f", locustfile,
    ]  # fmt: skip


def run_distributed(
    *,
    url: str,
    workload_file: Path,
    duration_s: float,
    workers: int,
    out_dir: Path,
    remote_workers: int = 0,
    timeout_s: float = 30.0,
    api_key: str | None = None,
    master_host: str = LOOPBACK,
    master_port: int | None = None,
    start_margin_s: float = START_MARGIN_S,
    wait_for_workers_s: int = 60,
    echo: Callable[[str], None] | None = None,
) -> Path:
    """Run the workload from ``workers`` local and ``remote_workers`` remote Locust workers.

    Returns the history directory. Requests that no worker reported stay pending in it,
    and ``echo`` says so; a run that cannot start or finish raises DistributedRunError.
    """
    echo = echo or _to_stderr
    expected = workers + remote_workers
    Target(url, timeout_s=timeout_s)  # a bad URL or timeout fails here, not in every worker
    _check(workload_file, duration_s, workers, expected, out_dir)
    port = master_port or _free_port(master_host)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = out_dir / RESULTS_FILE
    logs = out_dir / LOGS_DIR
    env = {k: v for k, v in os.environ.items() if k != API_KEY_VARIABLE}
    if api_key:
        env[API_KEY_VARIABLE] = api_key
    options = {
        "--master-bind-host": master_host,
        "--master-bind-port": str(port),
        "--expect-workers": str(expected),
        "--expect-workers-max-wait": str(wait_for_workers_s),
        "--users": str(expected),
        "--spawn-rate": str(expected),
        "--meltproof-workload": str(workload_file.resolve()),
        "--meltproof-duration": repr(duration_s),
        "--meltproof-url": url,
        "--meltproof-results": str(results.resolve()),
        "--meltproof-timeout": repr(timeout_s),
        "--meltproof-start-margin": repr(start_margin_s),
    }
    master = ManagedProcess(
        "locust master",
        [
            *(sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)),
            *("--master", "--headless", "--only-summary"),
            *itertools.chain.from_iterable(options.items()),
        ],
        log_path=logs / "master.log",
        env=env,
    )
    here = LOOPBACK if _wildcard(master_host) else master_host
    local = [
        ManagedProcess(
            f"locust worker {i}",
            worker_command(here, port, locustfile=str(LOCUSTFILE), python=sys.executable),
            log_path=logs / f"worker-{i}.log",
        )
        for i in range(workers)
    ]
    if remote_workers:
        address = "<this machine's address>" if _wildcard(master_host) else master_host
        echo(f"Waiting {wait_for_workers_s} s for {remote_workers} worker(s) from other machines.")
        echo("On each (meltproof[locust] installed, clock synced by NTP), run:")
        echo("  " + " ".join(worker_command(address, port)))
    longest_s = wait_for_workers_s + start_margin_s + duration_s + timeout_s + SLACK_S
    try:
        master.spawn()
        for process in local:
            process.spawn()
        _wait_for(master, time.monotonic() + longest_s)
        _wait_quietly(local, time.monotonic() + WORKER_EXIT_S)
    finally:
        for process in (*local, master):
            process.stop()
    try:
        collected = convert_results(results, out_dir / HISTORY_DIR)
    except ResultsError as exc:
        raise DistributedRunError(
            f"{exc}\nthe master exited with code {master.exit_code()}; last lines of its log:\n"
            f"{master.log_tail()}\nall logs are in {logs}"
        ) from None
    echo(collected.problems() or f"all {len(collected.result.table):,} requests reported")
    return out_dir / HISTORY_DIR


def _check(workload_file: Path, duration_s: float, workers: int, expected: int, out: Path) -> None:
    """Fail before starting anything if the arguments cannot work."""
    if duration_s <= 0:
        raise ValueError(f"duration_s must be positive, got {duration_s}")
    if workers < 0 or expected < 1:
        raise ValueError("need at least one worker, local or remote")
    try:
        workload = Workload.from_dict(json.loads(workload_file.read_text()))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the workload {workload_file}: {exc}") from None
    for share in workload.endpoints:
        endpoint(share.name)
    for name in (RESULTS_FILE, HISTORY_DIR):
        if (out / name).exists():
            raise FileExistsError(f"{out / name} exists; runs are never overwritten")


def _to_stderr(line: str) -> None:
    sys.stderr.write(line + "\n")


def _wildcard(host: str) -> bool:
    return host in {"", "0.0.0.0", "::", "*"}  # noqa: S104 - recognised, not bound


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind(("" if _wildcard(host) else host, 0))
        return int(sock.getsockname()[1])


def _wait_for(master: ManagedProcess, deadline: float) -> None:
    while master.exit_code() is None:
        if time.monotonic() > deadline:
            raise DistributedRunError(
                f"the master did not finish in time; last lines of its log:\n{master.log_tail()}"
            )
        time.sleep(0.1)


def _wait_quietly(processes: Sequence[ManagedProcess], deadline: float) -> None:
    while any(p.exit_code() is None for p in processes) and time.monotonic() < deadline:
        time.sleep(0.1)


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

The workload file is Workload.to_dict() as JSON. Every worker starts on the same wall-clock
instant, so the machines' clocks must be synced (NTP). Exit codes: 0 every request
reported, 1 some requests were not reported (a worker died), 3 the run could not happen or
the generator failed its schedule (it fell behind, or ran out of descriptors).""",
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
    """Parse the command line, run, and return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.workers == 0 and args.remote_workers < 1:
        parser.error("--workers 0 needs --remote-workers N (N >= 1)")
    try:
        history = run_distributed(
            url=args.url,
            workload_file=args.workload,
            duration_s=args.duration,
            workers=args.workers,
            remote_workers=args.remote_workers,
            out_dir=args.out,
            timeout_s=args.timeout,
            api_key=os.environ.get(API_KEY_VARIABLE) or None,
            master_host=args.master_host,
            master_port=args.master_port,
            wait_for_workers_s=args.wait_for_workers,
        )
    except (DistributedRunError, ValueError, FileExistsError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_CANNOT_RUN
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; every process was stopped\n")
        return 130
    sys.stderr.write(f"history: {history}\n")
    stored = read_history(history)
    problem = stored.result().shortfall()
    if problem is None:
        return 0
    sys.stderr.write(f"error: {problem}\n")
    return EXIT_INCOMPLETE if stored.meta["distributed"]["pending_rows"] else EXIT_CANNOT_RUN


if __name__ == "__main__":
    sys.exit(main())
