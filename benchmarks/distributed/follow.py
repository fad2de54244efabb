"""Follows the master's results file while a run goes: its time zero, and live counts.

The master appends whole lines (the format is in ``convert``); a line still being written is
kept until the rest of it arrives. Only what progress needs is read here; the finished file
is read whole by ``convert``.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Self

import numpy as np

from benchmarks.engine import LiveCounts
from benchmarks.op import Outcome
from benchmarks.schedule import Schedule

from .convert import ResultsError


class ResultsFollower:
    """Reads what the master appended to ``path`` since the last ``read``."""

    def __init__(self, path: Path, schedule: Schedule) -> None:
        self._path = path
        self._intended = schedule.intended_s
        self._file: BinaryIO | None = None
        self._partial = b""
        self._sent: dict[int, int] = {}
        self.started_at: float | None = None
        """Time zero (wall clock, Unix seconds), once the master has set it."""
        self.live = LiveCounts(scheduled=len(schedule))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.close()

    def read(self) -> None:
        """Take in the complete lines appended since the last call (none before the file)."""
        if self._file is None:
            try:
                self._file = self._path.open("rb")
            except FileNotFoundError:
                return
        *lines, self._partial = (self._partial + self._file.read()).split(b"\n")
        for line in lines:
            if line.strip():
                try:
                    self._take(json.loads(line))
                except (KeyError, TypeError, ValueError, IndexError) as exc:
                    raise ResultsError(f"{self._path}: malformed results: {exc!r}") from None

    def _take(self, record: dict[str, Any]) -> None:
        kind = record["kind"]
        if kind == "start":
            self.started_at = float(record["started_at"])
        elif kind == "ops":
            live = self.live
            self._sent[int(record["worker"])] = int(record["sent"])
            live.sent = sum(self._sent.values())
            columns = record["columns"]
            rows = np.asarray(columns["row"], dtype=np.int64)
            outcome = np.asarray(columns["outcome"], dtype=np.int64)
            live.done += len(rows)
            live.failed += int((outcome == Outcome.FAIL).sum())
            live.unknown += int((outcome == Outcome.INFO).sum())
            end_s = np.asarray(columns["end_s"], dtype=np.float64)  # None becomes NaN
            live.latency.record_many(end_s - self._intended[rows])
