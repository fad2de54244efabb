"""Serving: one worker in this process, or N worker processes sharing the port.

Workers bind the same port with ``SO_REUSEPORT`` and the kernel spreads connections over
them; every piece of shared state lives in Redis. The parent supervises: a worker that dies
is started again; SIGTERM or SIGINT is passed on, and each worker drains its in-flight
requests (up to ``shutdown_timeout_s``) before it exits. Workers die with the parent.
With several workers, Prometheus metrics are aggregated through files in a temporary
``PROMETHEUS_MULTIPROC_DIR``.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import tempfile
import time
from multiprocessing.context import SpawnProcess
from types import FrameType

from aiohttp import web
from prometheus_client import multiprocess


try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is not available on Windows
    uvloop = None  # type: ignore[assignment]

from .app import create_app
from .config import GatewayConfig


log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1
RESTART_PAUSE_S = 0.5


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
    loop = _fast_loop()
    web.run_app(
        create_app(config),
        host=host,
        port=port,
        reuse_port=config.workers > 1,
        shutdown_timeout=shutdown_timeout_s,
        print=None,
        access_log=None,
        loop=loop,
    )


def _fast_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed, else the default loop."""
    return uvloop.new_event_loop() if uvloop is not None else asyncio.new_event_loop()


def _worker_main(
    config: GatewayConfig, host: str, port: int, shutdown_timeout_s: float, access_log: bool
) -> None:
    """Entry point of a worker process: die with the parent, then serve."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    serve_worker(config, host, port, shutdown_timeout_s=shutdown_timeout_s, access_log=access_log)


def serve_workers(
    config: GatewayConfig, host: str, port: int, *, shutdown_timeout_s: float, access_log: bool
) -> int:
    """Run ``config.workers`` worker processes on one port until SIGINT/SIGTERM."""
    configure_logging(access_log=access_log)
    with tempfile.TemporaryDirectory(prefix="meltproof-metrics-") as metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        context = multiprocessing.get_context("spawn")
        stopping = False

        def stop(_signum: int, _frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True
            for process in workers:
                if process.pid is not None and process.is_alive():
                    os.kill(process.pid, signal.SIGTERM)

        def start() -> SpawnProcess:
            process = context.Process(
                target=_worker_main,
                args=(config, host, port, shutdown_timeout_s, access_log),
                name="gateway-worker",
            )
            process.start()
            return process

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        workers = [start() for _ in range(config.workers)]
        log.info("gateway: %d workers on %s:%d", config.workers, host, port)
        while True:
            for index, process in enumerate(workers):
                process.join(timeout=0.2)
                if process.is_alive() or stopping:
                    continue
                log.error(
                    "worker %s exited with %s; starting another", process.pid, process.exitcode
                )
                _mark_dead(process.pid)
                time.sleep(RESTART_PAUSE_S)
                workers[index] = start()
            if stopping and not any(p.is_alive() for p in workers):
                return 0


def _mark_dead(pid: int | None) -> None:
    """Drop a dead worker's live gauges from the aggregated metrics."""
    if pid is not None:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
