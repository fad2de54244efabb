"""The CPU time the hypervisor takes from this virtual machine while a step runs.

On a shared VM the host's other tenants take the cores now and then (``/proc/stat``'s
``steal``): every process here stalls at once, and a step's p99 tells of them, not of the
target. What hurts is a burst: on the bench machine a 10 s step of hits at 2,000/s that lost
0.08 s in all, 0.07 s of it within 0.2 s, had a p99 of 16.4 ms, against 2.9-3.8 ms for the
steps around it that lost at most 0.01 s in any 0.2 s. So the steal is sampled through the
step, and both its total and its largest burst are kept.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType


PROC_STAT = Path("/proc/stat")
STEAL_FIELD = 7
"""The place of ``steal`` among the ticks of ``/proc/stat``'s ``cpu`` line."""
SAMPLE_PERIOD_S = 0.05
BURST_WINDOW_S = 0.2
"""The span over which a burst of steal is measured."""


def stolen_cpu_s(*, stat: Path = PROC_STAT) -> float | None:
    """CPU seconds the hypervisor took from this machine's cores since it booted, or None
    where the kernel does not count it."""
    try:
        ticks = cpu_ticks(stat)
    except (OSError, ValueError):
        return None
    if len(ticks) <= STEAL_FIELD:
        return None
    return ticks[STEAL_FIELD] / os.sysconf("SC_CLK_TCK")


def cpu_ticks(stat: Path = PROC_STAT) -> list[int]:
    """The machine's ``cpu`` line of ``/proc/stat``: user, nice, system, idle, iowait, irq,
    softirq, steal, ... in clock ticks."""
    return [int(value) for value in stat.read_text().split("\n", 1)[0].split()[1:]]


@dataclass(frozen=True)
class Stolen:
    """What the hypervisor took during a span: in all, and the most within ``BURST_WINDOW_S``."""

    total_s: float
    burst_s: float


def largest_burst(samples: list[tuple[float, float]], window_s: float) -> float:
    """The most that ``(time, stolen so far)`` samples grew within any ``window_s``."""
    largest, start = 0.0, 0
    for moment, stolen in samples:
        while moment - samples[start][0] > window_s:
            start += 1
        largest = max(largest, _seconds(stolen - samples[start][1]))
    return largest


def _seconds(difference_s: float) -> float:
    """A difference of two tick counts in seconds, to the microsecond: 12,345.67 - 12,345.64 is
    0.030000000000654836 as floats, which must not count as more than 0.03."""
    return round(difference_s, 6)


class StealWatch:
    """Samples the steal every ``SAMPLE_PERIOD_S`` in a thread of its own while in its
    ``with`` block; ``stolen`` is then what it saw, or None where the kernel does not count it."""

    def __init__(self, *, stat: Path = PROC_STAT, period_s: float = SAMPLE_PERIOD_S) -> None:
        self._stat = stat
        self._period_s = period_s
        self._samples: list[tuple[float, float]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="steal-watch", daemon=True)
        self.stolen: Stolen | None = None

    def __enter__(self) -> StealWatch:
        self._take()
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._done.set()
        self._thread.join()
        self._take()
        samples = self._samples
        if len(samples) >= 2:  # noqa: PLR2004 - a first and a last sample
            total_s = _seconds(samples[-1][1] - samples[0][1])
            self.stolen = Stolen(total_s, largest_burst(samples, BURST_WINDOW_S))

    def _sample(self) -> None:
        while not self._done.wait(self._period_s):
            self._take()

    def _take(self) -> None:
        stolen = stolen_cpu_s(stat=self._stat)
        if stolen is not None:
            self._samples.append((time.monotonic(), stolen))
