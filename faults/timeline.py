"""Run a fault timeline beside a load: inject, ramp and heal on time, and clean up for sure.

The caller starts ``run_timeline`` together with the load (``asyncio.gather`` or
``create_task``), passing the wall-clock time of the load's time zero. Injections and heals
are quick synchronous calls, run in a worker thread so the load's event loop never blocks.

Order and overlap. Actions on the same *slot* (the state a fault writes: one toxic, one
provider fault slot, one process; see ``faults.model``) run one after another, in plan order;
actions on different slots run side by side, so a slow heal (a PostgreSQL restart) does not
delay the other faults. When two faults share a slot, the later replaces the earlier; when it
heals, the earlier one, if still active, is injected again. An activation cannot heal a slot
that a later fault holds: its window ends in the log, the later fault stays.

Failures. A failed injection or heal is written in the record's ``error`` and the run goes on;
a fault whose component is missing is not healed. A failed heal leaves ``ended_at`` None.

Clean-up, always (also on cancellation or error): wait for the actions under way, heal every
active fault, reset Toxiproxy, clear the provider's faults, and thaw (and start again if
killed) every process a fault touched. A failing clean-up raises ``FaultCleanupError`` (with
the records) after a normal run, and is logged when another error is already on its way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from stack.process import ProcessControl

from .context import FaultContext
from .errors import FaultCleanupError, MissingComponentError, acting
from .event import FaultEvent
from .process.base import ProcessFault
from .process.kill_restart import KillRestartFault
from .record import FaultRecord
from .registry import FaultSpec
from .schedule import Action, Step, Window, actions, windows


log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]
Slot = tuple[str, ...]

DEFAULT_RESTART_TIMEOUT_S = 30.0


async def run_timeline(
    events: Sequence[FaultEvent],
    ctx: FaultContext,
    *,
    time_zero: float,
    duration_s: float,
    on_record: Callable[[FaultRecord], None] | None = None,
    clock: Clock = time.time,
    sleep: Sleep = asyncio.sleep,
) -> list[FaultRecord]:
    """Play ``events`` against ``ctx`` from ``time_zero`` for ``duration_s``; return the log.

    ``on_record`` sees each record when its fault is injected and when it heals (its errors
    are logged, not raised). ``clock`` and ``sleep`` are the wall clock and the sleep.
    """
    timeline = _Timeline(ctx, time_zero=time_zero, clock=clock, on_record=on_record)
    try:
        await timeline.play(actions(windows(events, duration_s)), sleep)
    except BaseException:
        _log_problems(await asyncio.shield(timeline.clean_up()))
        raise
    problems = await timeline.clean_up()
    if problems:
        raise FaultCleanupError("fault clean-up failed: " + "; ".join(problems), timeline.records)
    return timeline.records


@dataclass
class _Live:
    """An activation that has been dispatched."""

    window: Window
    fraction: float
    record: FaultRecord | None = None
    missing: bool = False
    """Its component was missing: nothing was injected, nothing to heal."""

    @property
    def fault(self) -> FaultSpec:
        return self.window.event.fault


class _Timeline:
    def __init__(
        self,
        ctx: FaultContext,
        *,
        time_zero: float,
        clock: Clock,
        on_record: Callable[[FaultRecord], None] | None,
    ) -> None:
        self._ctx = ctx
        self._time_zero = time_zero
        self._clock = clock
        self._on_record = on_record
        self._lives: dict[int, _Live] = {}
        self._stacks: dict[Slot, list[_Live]] = {}
        """Per slot, the active activations in injection order; the last one holds the slot."""
        self._chains: dict[Slot, asyncio.Task[None]] = {}
        self._restart_timeouts_s: dict[str, float] = {}
        """Per process a fault touched, how long a start may take."""

    @property
    def records(self) -> list[FaultRecord]:
        """The log so far, in start order."""
        return [live.record for _, live in sorted(self._lives.items()) if live.record]

    async def play(self, todo: Sequence[Action], sleep: Sleep) -> None:
        """Dispatch each action at its time, then wait until all are done."""
        for action in todo:
            await self._wait_until(action.at_s, sleep)
            self._dispatch(action)
        await asyncio.gather(*self._chains.values())

    async def _wait_until(self, at_s: float, sleep: Sleep) -> None:
        """Let actions under way finish, at most until ``at_s``; then sleep what is left."""
        busy = [chain for chain in self._chains.values() if not chain.done()]
        if busy and self._due_in(at_s) > 0:
            await asyncio.wait(busy, timeout=self._due_in(at_s))
        if self._due_in(at_s) > 0:
            await sleep(self._due_in(at_s))

    def _due_in(self, at_s: float) -> float:
        return self._time_zero + at_s - self._clock()

    def _dispatch(self, action: Action) -> None:
        fault = action.window.event.fault
        stack = self._stacks.setdefault(fault.slot, [])
        if action.step is Step.INJECT:
            live = _Live(action.window, action.fraction)
            self._lives[action.window.index] = live
            stack.append(live)
            if isinstance(fault, ProcessFault):
                self._note_process(fault)
            self._enqueue(fault.slot, lambda: self._inject(live))
            return
        live = self._lives[action.window.index]
        holds_slot = stack[-1] is live
        if action.step is Step.RAMP:
            live.fraction = action.fraction
            if holds_slot:
                self._enqueue(fault.slot, lambda: self._ramp(live))
            return
        stack.remove(live)
        successor = stack[-1] if holds_slot and stack else None
        self._enqueue(fault.slot, lambda: self._heal(live, act=holds_slot, successor=successor))

    def _note_process(self, fault: ProcessFault) -> None:
        timeout_s = (
            fault.restart_timeout_s
            if isinstance(fault, KillRestartFault)
            else DEFAULT_RESTART_TIMEOUT_S
        )
        previous = self._restart_timeouts_s.get(fault.service, 0.0)
        self._restart_timeouts_s[fault.service] = max(previous, timeout_s)

    def _enqueue(self, slot: Slot, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` after everything queued on ``slot``."""
        previous = self._chains.get(slot)

        async def chained() -> None:
            if previous is not None:
                await asyncio.wait([previous])
            await work()

        self._chains[slot] = asyncio.create_task(chained())

    async def _inject(self, live: _Live) -> None:
        fault = live.fault
        error = await self._call(fault.at_intensity(live.fraction).inject)
        live.missing = isinstance(error, MissingComponentError)
        params = fault.params()
        if live.window.event.ramp_steps:
            params["ramp_steps"] = live.window.event.ramp_steps
        live.record = FaultRecord(
            name=live.window.event.label,
            kind=fault.kind,
            target=fault.target,
            planned_at_s=live.window.start_s,
            started_at=self._clock(),
            error=_describe("inject", error),
            params=params,
        )
        self._notify(live.record)

    async def _ramp(self, live: _Live) -> None:
        if live.missing:
            return
        error = await self._call(live.fault.at_intensity(live.fraction).inject)
        if error is not None:
            self._add_error(live, _describe(f"ramp to {live.fraction:.0%}", error))

    async def _heal(self, live: _Live, *, act: bool, successor: _Live | None) -> None:
        error = await self._call(live.fault.heal) if act and not live.missing else None
        ended_at = self._clock() if error is None else None
        self._end(live, ended_at, _describe("heal", error))
        if successor is not None and not successor.missing:
            again = await self._call(successor.fault.at_intensity(successor.fraction).inject)
            if again is not None:
                self._add_error(successor, _describe("inject again", again))

    def _end(self, live: _Live, ended_at: float | None, error: str | None) -> None:
        if live.record is None:
            return
        live.record = replace(live.record, ended_at=ended_at, error=_join(live.record.error, error))
        self._notify(live.record)

    def _add_error(self, live: _Live, error: str | None) -> None:
        if live.record is not None:
            live.record = replace(live.record, error=_join(live.record.error, error))
            self._notify(live.record)

    async def _call(self, action: Callable[[FaultContext], None]) -> Exception | None:
        """Run an injection or heal in a thread; return what it raised."""
        try:
            await asyncio.to_thread(action, self._ctx)
        except Exception as exc:  # noqa: BLE001 - a failed fault goes in its record, the run goes on
            return exc
        return None

    def _notify(self, record: FaultRecord) -> None:
        if self._on_record is None:
            return
        try:
            self._on_record(record)
        except Exception:
            log.exception("on_record failed for fault %r", record.name)

    async def clean_up(self) -> list[str]:
        """Heal what is active, reset every component, bring processes back; the problems."""
        await asyncio.gather(*self._chains.values(), return_exceptions=True)
        for stack in self._stacks.values():
            holder = stack[-1] if stack else None
            for live in reversed(stack):
                await self._heal(live, act=live is holder, successor=None)
            stack.clear()
        problems = []
        for what, reset in self._resets():
            try:
                await asyncio.to_thread(reset)
            except Exception as exc:  # noqa: BLE001 - every reset is tried; all problems reported
                problems.append(f"{what}: {exc}")
        return problems

    def _resets(self) -> list[tuple[str, Callable[[], None]]]:
        resets: list[tuple[str, Callable[[], None]]] = []
        if self._ctx.toxiproxy is not None:
            resets.append(("resetting Toxiproxy", self._ctx.toxiproxy.reset))
        if self._ctx.provider is not None:
            resets.append(("clearing the provider's faults", self._ctx.provider.clear_faults))
        for service, timeout_s in self._restart_timeouts_s.items():
            process = self._ctx.processes.get(service)
            if process is not None:
                resets.append((f"restoring {service}", _restorer(process, timeout_s)))
        return resets


def _log_problems(problems: Sequence[str]) -> None:
    """Clean-up problems met while another error is on its way out."""
    for problem in problems:
        log.error("fault clean-up: %s", problem)


def _restorer(process: ProcessControl, timeout_s: float) -> Callable[[], None]:
    def restore() -> None:
        with acting(process.name, "restoring"):
            process.thaw()
            if not process.running():
                process.start(timeout_s)

    return restore


def _describe(action: str, error: Exception | None) -> str | None:
    return None if error is None else f"{action} failed: {error}"


def _join(first: str | None, second: str | None) -> str | None:
    return "; ".join(part for part in (first, second) if part) or None
