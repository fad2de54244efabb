"""Several generator processes for one plan: dealt the schedule, started together, merged.

The schedule is dealt round-robin to N spawned processes (each on uvloop where available).
Every process rebuilds the same schedule from the workload's seed, reports ready, and waits;
once all are ready the parent sets one start instant and they all begin. Progress and results
come back over one pipe per child, so a child killed mid-message breaks only its own pipe
(a shared queue could be left half-written, or locked, for everyone). The parent owns the
children: they ignore Ctrl-C, and whatever ends the run (an error, a child's death, an
interrupt) terminates them.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnProcess
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from typing import TYPE_CHECKING, Any

from stack.process import die_with_parent

from .engine import PROGRESS_EVERY_S, EngineResult, LiveCounts, OpenLoopEngine, Progress
from .errors import BenchmarkError
from .event_loop import run_with_fast_loop
from .hdr import DurationHistogram
from .recording import now


if TYPE_CHECKING:
    from .plan import LoadPlan

START_MARGIN_S = 0.5
"""Between the moment every process is ready and the first intended send."""

READY_TIMEOUT_S = 120.0
"""How long a ready child waits for the start before it gives up."""

_POLL_S = 0.2

Message = tuple[Any, ...]


class GeneratorProcessError(BenchmarkError):
    """A generator process failed or died; the message says which and why."""


@dataclass(frozen=True, eq=False)
class ProcessesResult:
    """Every process's result, in process order, and the shared start (Unix seconds)."""

    results: list[EngineResult]
    started_at: float


async def run_in_processes(
    plan: LoadPlan, progress: Progress | None, on_start: Callable[[float], None] | None = None
) -> ProcessesResult:
    """Run ``plan`` on ``plan.processes`` child processes; ``on_start`` gets time zero."""
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    start_at = context.Value("d", 0.0)
    pipes = [context.Pipe(duplex=False) for _ in range(plan.processes)]
    children = [
        context.Process(
            target=_child_main,
            args=(plan, index, os.getpid(), writer, go, start_at),
            name=f"meltproof-load-{index}",
            daemon=True,
        )
        for index, (_, writer) in enumerate(pipes)
    ]
    board = _Board(children, [reader for reader, _ in pipes], progress)
    try:
        for child, (_, writer) in zip(children, pipes, strict=True):
            child.start()
            writer.close()  # the child's end: its exit now shows here as end of file
        await board.pump(until=lambda: board.ready == len(children))
        start_at.value = now() + START_MARGIN_S  # one monotonic clock for the whole machine
        go.set()
        if on_start:
            on_start(time.time() + (start_at.value - now()))
        await board.pump(until=lambda: len(board.results) == len(children))
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
        await asyncio.to_thread(_join, children)
        for reader, _ in pipes:
            reader.close()
    if progress:
        progress(board.merged())
    started_at = time.time() + (start_at.value - now())
    return ProcessesResult([board.results[i] for i in range(len(children))], started_at)


def _join(children: list[SpawnProcess]) -> None:
    for child in children:
        child.join(timeout=5)
        if child.is_alive():
            child.kill()
            child.join()


class _Board:
    """What the children said: who is ready, their latest progress, their results."""

    def __init__(
        self, children: list[SpawnProcess], readers: list[Connection], progress: Progress | None
    ) -> None:
        self.ready = 0
        self.results: dict[int, EngineResult] = {}
        self._children = children
        self._open = {reader: index for index, reader in enumerate(readers)}
        self._progress = progress
        self._latest: dict[int, Message] = {}
        self._shown_at = 0.0

    async def pump(self, *, until: Callable[[], bool]) -> None:
        """Handle messages until ``until()``; a failed or dead child raises."""
        while not until():
            readable = set(await asyncio.to_thread(wait, list(self._open), _POLL_S))
            for reader in [r for r in self._open if r in readable]:
                try:
                    message = reader.recv()
                except EOFError:  # the child is gone; its result, if any, came before
                    self._gone(self._open.pop(reader))
                    continue
                self._handle(message)

    def _gone(self, index: int) -> None:
        if index not in self.results:
            self._children[index].join(timeout=1)
            code = self._children[index].exitcode
            raise GeneratorProcessError(
                f"generator process {index} exited (code {code}) without its result"
            )

    def _handle(self, message: Message) -> None:
        kind, index, *values = message
        if kind == "ready":
            self.ready += 1
        elif kind == "progress":
            self._latest[index] = tuple(values)
            if self._progress and now() - self._shown_at >= PROGRESS_EVERY_S:
                self._shown_at = now()
                self._progress(self.merged())
        elif kind == "result":
            self.results[index] = values[0]
        else:
            raise GeneratorProcessError(f"generator process {index} failed:\n{values[0]}")

    def merged(self) -> LiveCounts:
        """Every child's latest progress, summed."""
        total = LiveCounts(scheduled=0)
        for scheduled, sent, done, failed, unknown, latency in self._latest.values():
            total.scheduled += scheduled
            total.sent += sent
            total.done += done
            total.failed += failed
            total.unknown += unknown
            total.latency.add(DurationHistogram.decode(latency))
        return total


def _child_main(
    plan: LoadPlan,
    index: int,
    parent: int,
    pipe: Connection,
    go: Event,
    start_at: Synchronized[float],
) -> None:
    """One generator process: its share of the schedule, started with the others."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    die_with_parent(parent)  # and a killed parent leaves no generator sending load
    try:
        schedule = plan.workload.schedule(plan.duration_s).slice_for(index, plan.processes)
        engine = OpenLoopEngine(plan.workload, schedule, plan.target)

        def report(live: LiveCounts) -> None:
            stats = (live.scheduled, live.sent, live.done, live.failed, live.unknown)
            pipe.send(("progress", index, *stats, live.latency.encode()))

        async def main() -> EngineResult:
            pipe.send(("ready", index))
            await _wait_for_start(go)
            return await engine.run(start_at=start_at.value, progress=report)

        pipe.send(("result", index, run_with_fast_loop(main())))
    except Exception:  # noqa: BLE001 - every failure goes to the parent, with its traceback
        pipe.send(("error", index, traceback.format_exc()))


async def _wait_for_start(go: Event) -> None:
    if not await asyncio.to_thread(go.wait, READY_TIMEOUT_S):
        raise GeneratorProcessError(f"no start within {READY_TIMEOUT_S:g} s of being ready")
