"""Progress of a running load, for ``run``, ``demo`` and ``load``: live in a terminal, else a log.

In a terminal one status line is redrawn in place. Without one (a CI log, a pipe, nox) a plain
line is printed every few seconds instead: ``MELTPROOF_PROGRESS_INTERVAL_S`` sets how often
(default 5 s).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.status import Status

from benchmarks.engine import LiveCounts

from .console import errors


DEFAULT_INTERVAL_S = 5.0
INTERVAL_VARIABLE = "MELTPROOF_PROGRESS_INTERVAL_S"


def interval_from(environ: Mapping[str, str]) -> float:
    """Seconds between plain progress lines: the variable if it is a positive number."""
    text = environ.get(INTERVAL_VARIABLE)
    if text is None:
        return DEFAULT_INTERVAL_S
    try:
        interval_s = float(text)
    except ValueError:
        interval_s = math.nan
    if not interval_s > 0:  # also NaN
        errors.print(
            f"[yellow]warning:[/] {INTERVAL_VARIABLE}={escape(text)} is not a positive number of "
            f"seconds; progress every {DEFAULT_INTERVAL_S:g} s"
        )
        return DEFAULT_INTERVAL_S
    return interval_s


def status_line(counts: LiveCounts, elapsed_s: float) -> str:
    """Elapsed time, sent of scheduled, failed, unknown and p95 so far (``—`` before any end)."""
    waiting = counts.sent - counts.done
    tail = f" · waiting for {waiting:,}" if counts.sent == counts.scheduled and waiting else ""
    p95_s = counts.latency.percentile_s(95)  # NaN while nothing has ended
    p95 = "—" if math.isnan(p95_s) else f"{p95_s * 1e3:,.0f} ms"
    return (
        f"{elapsed_s:.1f} s · sent {counts.sent:,}/{counts.scheduled:,}{tail} · "
        f"failed {counts.failed:,} · unknown {counts.unknown:,} · p95 {p95}"
    )


class LoadProgress:
    """Shows ``LiveCounts`` on ``out`` while a load runs; ``show`` is the engine's callback.

    Use it as a context manager. Elapsed time counts from its creation; plain lines come every
    ``interval_s`` (default: ``MELTPROOF_PROGRESS_INTERVAL_S``, else 5 s) by ``clock``.
    """

    def __init__(
        self,
        out: Console,
        label: str,
        *,
        interval_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._out = out
        self._label = label
        self._interval_s = interval_from(os.environ) if interval_s is None else interval_s
        self._clock = clock
        self._started = self._printed_at = clock()
        self._status: Status | None = None

    def __enter__(self) -> LoadProgress:
        if self._out.is_terminal:
            self._status = self._out.status(escape(f"{self._label}: starting"))
            self._status.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    @property
    def elapsed_s(self) -> float:
        """Seconds since this was created."""
        return self._clock() - self._started

    def show(self, counts: LiveCounts) -> None:
        """Redraw the live line, or print a plain one if the interval has passed since the last."""
        now = self._clock()
        line = f"{self._label}: {status_line(counts, now - self._started)}"
        if self._status is not None:
            self._status.update(escape(line))
        elif now - self._printed_at >= self._interval_s:
            self._out.out(line)
            self._printed_at = now
