"""Per-window time series of a run: rate, outcomes and exact latency percentiles.

Requests are bucketed by their intended send time, so a window shows what the users who
arrived in it experienced, including those whose answer came after the window. ``sent`` is
bucketed by actual send time, which shows the generator keeping pace (or not).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .op import OpTable, Outcome
from .percentile import sorted_ranks


@dataclass(frozen=True)
class Window:
    """One window: counts, and latency percentiles in seconds (None when nothing ended)."""

    start_s: float
    scheduled: int
    sent: int
    ok: int
    failed: int
    unknown: int
    p50_s: float | None
    p95_s: float | None
    p99_s: float | None
    max_s: float | None


def time_series(table: OpTable, *, window_s: float = 1.0) -> list[Window]:
    """Windows of ``window_s`` from time zero to the last send, intended or actual."""
    if window_s <= 0:
        raise ValueError(f"window_s must be positive, got {window_s}")
    ops = table.ops
    if not len(ops):
        return []
    sent_times = ops["sent_s"][~np.isnan(ops["sent_s"])]
    last = max(float(ops["intended_s"].max()), float(sent_times.max(initial=0.0)))
    count = math.floor(last / window_s) + 1
    bucket = _bucket(ops["intended_s"], window_s, count)
    outcome = ops["outcome"]
    ended = outcome != Outcome.PENDING
    per = {
        "scheduled": np.bincount(bucket, minlength=count),
        "sent": np.bincount(_bucket(sent_times, window_s, count), minlength=count),
        "ok": np.bincount(bucket[outcome == Outcome.OK], minlength=count),
        "failed": np.bincount(bucket[outcome == Outcome.FAIL], minlength=count),
        "unknown": np.bincount(bucket[outcome == Outcome.INFO], minlength=count),
    }
    quantiles = _quantiles_by_bucket(bucket[ended], table.latency_s[ended], count)
    return [
        Window(
            start_s=k * window_s,
            scheduled=int(per["scheduled"][k]),
            sent=int(per["sent"][k]),
            ok=int(per["ok"][k]),
            failed=int(per["failed"][k]),
            unknown=int(per["unknown"][k]),
            **quantiles[k],
        )
        for k in range(count)
    ]


def to_dicts(windows: list[Window]) -> list[dict[str, Any]]:
    """JSON-ready."""
    return [asdict(w) for w in windows]


def _bucket(times_s: npt.NDArray[np.float64], window_s: float, count: int) -> npt.NDArray[np.intp]:
    return np.clip((times_s // window_s).astype(np.intp), 0, count - 1)


def _quantiles_by_bucket(
    bucket: npt.NDArray[np.intp], latency_s: npt.NDArray[np.float64], count: int
) -> list[dict[str, float | None]]:
    """Exact p50/p95/p99/max of the latencies in each bucket, by nearest rank."""
    order = np.lexsort((latency_s, bucket))
    bucket, latency_s = bucket[order], latency_s[order]
    starts = np.searchsorted(bucket, np.arange(count), side="left")
    ends = np.searchsorted(bucket, np.arange(count), side="right")
    result: list[dict[str, float | None]] = []
    for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
        values = latency_s[lo:hi]
        if not len(values):
            result.append({"p50_s": None, "p95_s": None, "p99_s": None, "max_s": None})
            continue
        window: dict[str, float | None] = {
            f"p{p}_s": v for p, v in sorted_ranks(values, (50, 95, 99)).items()
        }
        window["max_s"] = float(values[-1])
        result.append(window)
    return result
