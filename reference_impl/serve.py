"""Serving: one worker in this process, or N worker processes sharing the port.

Workers bind the same port with ``SO_REUSEPORT`` and the kernel spreads connections over
them; shared state lives in Redis, except the concurrency slots the instance holds, which the
workers count in a slot table file (``slot_table``), one row per worker. The parent
supervises: a worker that dies has its row cleared and is started again; SIGTERM or SIGINT is
passed on, and each worker drains its in-flight requests (up to ``shutdown_timeout_s``) before
it exits. Workers die with the parent. With several workers, Prometheus metrics are
aggregated through files in a temporary ``PROMETHEUS_MULTIPROC_DIR``.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import multiprocessing
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from multiprocessing.context import SpawnProcess
from pathlib import Path
from types import FrameType

from aiohttp import web
from prometheus_client import multiprocess


try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is not available on Windows
    uvloop = None  # type: ignore[assignment]

from .app import create_app
from .config import GatewayConfig
from .errors import GatewayRunner
from .limiter import table_columns
from .slot_table import SlotTable, assign_row


log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1
RESTART_PAUSE_S = 0.5
LONGEST_RESTART_PAUSE_S = 30.0
YOUNG_DEATH_S = 10.0
"""A worker dying younger than this doubles the pause before the next restart."""
KILL_GRACE_S = 5.0


def configure_logging(*, access_log: bool) -> None:
    """Plain log lines on stderr; the per-request access log only when asked for."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(name)s %(message)s"
    )
    logging.getLogger("reference_impl.access").setLevel(
        logging.INFO if access_log else logging.WARNING
    )


def serve_worker(
    config: GatewayConfig, host: str, port: int, *, shutdown_timeout_s: float, access_log: bool
) -> None:
    """Run one worker until SIGINT/SIGTERM, then drain in-flight requests."""
    configure_logging(access_log=access_log)
    with asyncio.Runner(loop_factory=_fast_loop) as runner:
        runner.run(
            _serve(
                create_app(config),
                host,
                port,
                reuse_port=config.workers > 1,
                shutdown_timeout_s=shutdown_timeout_s,
            )
        )


async def _serve(
    app: web.Application, host: str, port: int, *, reuse_port: bool, shutdown_timeout_s: float
) -> None:
    """Serve ``app`` until SIGINT/SIGTERM, then drain (``GatewayRunner``: JSON 4xx for
    requests aiohttp's parser rejects)."""
    runner = GatewayRunner(app, shutdown_timeout=shutdown_timeout_s, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_port=reuse_port).start()
        _freeze_startup_heap()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def _freeze_startup_heap() -> None:
    """Keep what start-up allocated (modules, config, clients: ~90k objects) out of the
    collector's full passes, which otherwise stall the loop for 50-90 ms a few times a
    minute under load and set the p99."""
    gc.collect()
    gc.freeze()


def _fast_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed, else the default loop."""
    return uvloop.new_event_loop() if uvloop is not None else asyncio.new_event_loop()


def _worker_main(
    config: GatewayConfig,
    host: str,
    port: int,
    shutdown_timeout_s: float,
    access_log: bool,
    slot_table: Path,
    index: int,
) -> None:
    """Entry point of a worker process: its own process group (a Ctrl-C in the terminal
    reaches the parent only, which stops each worker once), death with the parent, its row of
    the instance's slot table, then serve."""
    os.setpgrp()
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    assign_row(slot_table, index)
    serve_worker(config, host, port, shutdown_timeout_s=shutdown_timeout_s, access_log=access_log)


def serve_workers(
    config: GatewayConfig, host: str, port: int, *, shutdown_timeout_s: float, access_log: bool
) -> int:
    """Run ``config.workers`` worker processes on one port until SIGINT/SIGTERM."""
    configure_logging(access_log=access_log)
    columns = table_columns(tenant.name for tenant in config.tenants)
    with (
        tempfile.TemporaryDirectory(prefix="meltproof-metrics-") as metrics_dir,
        tempfile.TemporaryDirectory(prefix="meltproof-slots-") as slots_dir,
    ):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        table_path = Path(slots_dir) / "slots"
        SlotTable.create(table_path, columns, rows=config.workers)
        context = multiprocessing.get_context("spawn")

        def start(index: int) -> SpawnProcess:
            process = context.Process(
                target=_worker_main,
                args=(config, host, port, shutdown_timeout_s, access_log, table_path, index),
                name="gateway-worker",
            )
            process.start()
            return process

        rows = [SlotTable.open(table_path, columns, row=i) for i in range(config.workers)]
        try:
            supervisor = _Supervisor(start, rows, shutdown_timeout_s=shutdown_timeout_s)
            signal.signal(signal.SIGTERM, supervisor.stop)
            signal.signal(signal.SIGINT, supervisor.stop)
            log.info("gateway: %d workers on %s:%d", config.workers, host, port)
            return supervisor.run()
        finally:
            for row in rows:
                row.close()


class _Supervisor:
    """Keeps N workers running, restarting the dead with a growing pause while they keep
    dying young; on stop, SIGTERM once to each, then SIGKILL whatever outlives the drain.
    Worker ``i`` holds row ``i`` of the slot table (``rows[i]``)."""

    def __init__(
        self,
        start: Callable[[int], SpawnProcess],
        rows: Sequence[SlotTable],
        *,
        shutdown_timeout_s: float,
    ) -> None:
        self._start = start
        self._rows = rows
        self._kill_after_s = shutdown_timeout_s + KILL_GRACE_S
        self._workers: list[tuple[SpawnProcess, float]] = []
        self._stop_by: float | None = None
        self._pause_s = RESTART_PAUSE_S

    def stop(self, _signum: int, _frame: FrameType | None) -> None:
        """Signal handler: ask every worker to drain and exit (a second signal is ignored)."""
        if self._stop_by is not None:
            return
        self._stop_by = time.monotonic() + self._kill_after_s
        for process, _ in self._workers:
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGTERM)

    def run(self) -> int:
        """Supervise until every worker has exited after a stop."""
        self._workers = [(self._start(index), time.monotonic()) for index in range(len(self._rows))]
        while True:
            for index, (process, started) in enumerate(self._workers):
                process.join(timeout=0.2)
                if self._stop_by is None and not process.is_alive():
                    self._workers[index] = (
                        self._restart(index, process, started),
                        time.monotonic(),
                    )
            if self._stop_by is not None:
                alive = [p for p, _ in self._workers if p.is_alive()]
                if not alive:
                    return 0
                if time.monotonic() > self._stop_by:
                    for process in alive:
                        log.error("worker %s did not drain in time; killing it", process.pid)
                        process.kill()

    def _restart(self, index: int, process: SpawnProcess, started: float) -> SpawnProcess:
        lived_s = time.monotonic() - started
        self._pause_s = (
            min(self._pause_s * 2, LONGEST_RESTART_PAUSE_S)
            if lived_s < YOUNG_DEATH_S
            else RESTART_PAUSE_S
        )
        log.error(
            "worker %s exited with %s after %.1f s; starting another in %.1f s",
            process.pid, process.exitcode, lived_s, self._pause_s,
        )  # fmt: skip
        _mark_dead(process.pid, self._rows[index])
        time.sleep(self._pause_s)
        return process if self._stop_by is not None else self._start(index)


def _mark_dead(pid: int | None, row: SlotTable) -> None:
    """Drop a dead worker's live gauges from the aggregated metrics, and its concurrency slots
    from the slot table (the kernel has released its lock on the table)."""
    row.clear()
    if pid is not None:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
