"""Run a load plan in this process or in several, and merge what they measured.

One process sends the whole schedule on the running event loop. With ``processes=N`` the
schedule is dealt round-robin to N spawned processes (each with uvloop where available);
every process rebuilds the same schedule from the workload's seed, reports ready, and all
start together at one wall-clock instant. Their Op tables merge row by row and their
histograms merge exactly.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from typing import Any

from .engine import EngineResult, LiveCounts, OpenLoopEngine, Progress, Target, now
from .event_loop import run_with_fast_loop
from .hdr import DurationHistogram
from .op import OpTable
from .workload import Workload


START_MARGIN_S = 0.05
"""Between the moment every process is ready and the first intended send."""

SHORTFALL_TOLERANCE = 0.05
"""The run fails if the requests sent within the duration fall short of the schedule by more."""


@dataclass(frozen=True)
class LoadPlan:
    """What to send where, for how long, from how many processes."""

    workload: Workload
    duration_s: float
    target: Target
    processes: int = 1

    def __post_init__(self) -> None:
        if self.duration_s <= 0:
            raise ValueError(f"duration_s must be positive, got {self.duration_s}")
        if self.processes < 1:
            raise ValueError(f"processes must be at least 1, got {self.processes}")


@dataclass(frozen=True, eq=False)
class LoadResult:
    """Every request of a run as measured, and the stream gaps, with the plan and start time."""

    plan: LoadPlan
    table: OpTable
    itl: DurationHistogram
    started_at: float
    """Wall-clock time (Unix seconds) of the run's time zero."""

    def shortfall(self) -> str | None:
        """Why the generator did not keep up with the schedule, or None if it did."""
        duration = self.plan.duration_s
        scheduled = len(self.table)
        if not scheduled:
            return None
        sent_in_time = int((self.table.ops["sent_s"] <= duration).sum())
        if sent_in_time >= (1 - SHORTFALL_TOLERANCE) * scheduled:
            return None
        return (
            f"the load generator fell behind: it sent {sent_in_time:,} of {scheduled:,} scheduled "
            f"requests within {duration:g} s ({sent_in_time / duration:,.0f} of "
            f"{scheduled / duration:,.0f} requests/s). Use more --processes or a lower rate."
        )


async def run_load(plan: LoadPlan, *, progress: Progress | None = None) -> LoadResult:
    """Send ``plan``'s schedule and measure every request."""
    if plan.processes == 1:
        schedule = plan.workload.schedule(plan.duration_s)
        engine = OpenLoopEngine(plan.workload, schedule, plan.target)
        started_at = time.time()
        result = await engine.run(progress=progress)
        return LoadResult(plan, result.table, result.itl, started_at)
    return await _run_processes(plan, progress)


async def _run_processes(plan: LoadPlan, progress: Progress | None) -> LoadResult:
    context = multiprocessing.get_context("spawn")
    messages: multiprocessing.Queue[tuple[Any, ...]] = context.Queue()
    go = context.Event()
    start_at = context.Value("d", 0.0)
    with ProcessPoolExecutor(
        plan.processes,
        mp_context=context,
        initializer=_init_child,
        initargs=(messages, go, start_at),
    ) as pool:
        futures = [pool.submit(_child_main, plan, index) for index in range(plan.processes)]
        board = _ProgressBoard(plan.processes)
        await _pump(messages, futures, until=lambda: board.ready == plan.processes, board=board)
        start_at.value = time.time() + START_MARGIN_S
        go.set()
        await _pump(
            messages,
            futures,
            until=lambda: all(f.done() for f in futures),
            board=board,
            progress=progress,
        )
        results = [await asyncio.wrap_future(future) for future in futures]
    if progress:
        progress(board.merged())
    table = OpTable.merge([r.table for r in results])
    itl = DurationHistogram.merged([r.itl for r in results])
    return LoadResult(plan, table, itl, start_at.value)


class _ProgressBoard:
    """The latest progress of every child process."""

    def __init__(self, processes: int) -> None:
        self.ready = 0
        self._latest: dict[int, tuple[int, int, int, int, int, str]] = {}
        self._processes = processes

    def update(self, message: tuple[Any, ...]) -> None:
        kind, index, *values = message
        if kind == "ready":
            self.ready += 1
        else:
            self._latest[index] = tuple(values)

    def merged(self) -> LiveCounts:
        total = LiveCounts(scheduled=0)
        for scheduled, sent, done, failed, unknown, latency in self._latest.values():
            total.scheduled += scheduled
            total.sent += sent
            total.done += done
            total.failed += failed
            total.unknown += unknown
            total.latency.add(DurationHistogram.decode(latency))
        return total


async def _pump(
    messages: multiprocessing.Queue[tuple[Any, ...]],
    futures: list[Future[EngineResult]],
    *,
    until: Callable[[], bool],
    board: _ProgressBoard,
    progress: Progress | None = None,
) -> None:
    """Read the children's messages until ``until()``; a child that failed raises here."""
    loop = asyncio.get_running_loop()
    while not until():
        for future in futures:
            if future.done() and future.exception() is not None:
                future.result()
        try:
            message = await loop.run_in_executor(None, messages.get, True, 0.2)
        except queue.Empty:
            continue
        board.update(message)
        if progress and message[0] == "progress":
            progress(board.merged())


_child_state: dict[str, Any] = {}


def _init_child(messages: multiprocessing.Queue[tuple[Any, ...]], go: Event, start_at: Any) -> None:
    _child_state.update(messages=messages, go=go, start_at=start_at)


def _child_main(plan: LoadPlan, index: int) -> EngineResult:
    """One generator process: its share of the schedule, started with the others."""
    messages, go, start_at = (_child_state[k] for k in ("messages", "go", "start_at"))
    schedule = plan.workload.schedule(plan.duration_s).slice_for(index, plan.processes)
    engine = OpenLoopEngine(plan.workload, schedule, plan.target)

    def report(live: LiveCounts) -> None:
        stats = (live.scheduled, live.sent, live.done, live.failed, live.unknown)
        messages.put(("progress", index, *stats, live.latency.encode()))

    async def main() -> EngineResult:
        loop = asyncio.get_running_loop()
        messages.put(("ready", index))
        await loop.run_in_executor(None, go.wait)
        return await engine.run(start_at=now() + (start_at.value - time.time()), progress=report)

    return run_with_fast_loop(main())
