"""Summary statistics of a run: rates, outcomes, errors by kind, latency percentiles.

Latency percentiles come from HDR histograms of every request that ended: answered ones and
those the client gave up on (recorded at the time it gave up, a lower bound), so that
timeouts raise the tail instead of vanishing from it. Requests the generator itself could
not make (``ErrorKind.CLIENT``, ``ErrorKind.INTERNAL``) say nothing of the target and are
left out of latency. ``ok_latency_s`` is the same over
successful requests only.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .hdr import DurationHistogram
from .op import ErrorKind, OpTable, Outcome


PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)


@dataclass(frozen=True)
class Percentiles:
    """Percentiles, mean and max of a duration, in seconds (NaN when nothing was recorded)."""

    count: int
    p50_s: float
    p90_s: float
    p95_s: float
    p99_s: float
    p999_s: float
    max_s: float
    mean_s: float

    @classmethod
    def of(cls, histogram: DurationHistogram, *, mean_s: float | None = None) -> Percentiles:
        """Read from a histogram (its mean, unless the exact one is given)."""
        p = histogram.percentiles_s(PERCENTILES)
        return cls(
            histogram.count,
            p[50.0],
            p[90.0],
            p[95.0],
            p[99.0],
            p[99.9],
            histogram.max_s,
            histogram.mean_s if mean_s is None else mean_s,
        )

    @classmethod
    def of_values(cls, seconds: npt.ArrayLike) -> Percentiles:
        """Through a histogram of ``seconds`` (NaNs skipped); the mean is exact."""
        values = np.asarray(seconds, dtype=np.float64)
        values = values[~np.isnan(values)]
        histogram = DurationHistogram()
        histogram.record_many(values)
        return cls.of(histogram, mean_s=float(values.mean()) if len(values) else math.nan)


def error_key(error: ErrorKind, status: int) -> str:
    """How an error is named in summaries: its HTTP status, else its kind (``timeout``...)."""
    return str(status) if error is ErrorKind.HTTP else error.name.lower()


@dataclass(frozen=True)
class Summary:
    """What a run achieved."""

    duration_s: float
    scheduled: int
    target_rate_rps: float
    achieved_rate_rps: float
    ok: int
    failed: int
    unknown: int
    pending: int
    error_rate: float
    errors: dict[str, int]
    latency_s: Percentiles
    ok_latency_s: Percentiles
    uncorrected_latency_s: Percentiles
    lag_s: Percentiles
    ttft_s: Percentiles
    tpot_s: Percentiles
    itl_s: Percentiles

    @classmethod
    def of(cls, table: OpTable, itl: DurationHistogram, duration_s: float) -> Summary:
        """Summarise a run of ``duration_s`` seconds."""
        ops = table.ops
        outcome = ops["outcome"]
        by_generator = np.isin(ops["error"], [ErrorKind.CLIENT, ErrorKind.INTERNAL])
        ended = (outcome != Outcome.PENDING) & ~by_generator  # the target's doing
        ok = outcome == Outcome.OK
        failed = outcome == Outcome.FAIL
        unknown = outcome == Outcome.INFO
        latency = table.latency_s
        errors = Counter(
            error_key(ErrorKind(int(e)), int(s))
            for e, s in zip(
                ops["error"][failed | unknown], ops["status"][failed | unknown], strict=True
            )
        )
        answered = int(ended.sum())
        return cls(
            duration_s=duration_s,
            scheduled=len(table),
            target_rate_rps=len(table) / duration_s,
            achieved_rate_rps=float((ops["sent_s"] <= duration_s).sum()) / duration_s,
            ok=int(ok.sum()),
            failed=int(failed.sum()),
            unknown=int(unknown.sum()),
            pending=int((outcome == Outcome.PENDING).sum()),
            error_rate=float(failed.sum()) / answered if answered else math.nan,
            errors=dict(errors.most_common()),
            latency_s=Percentiles.of_values(latency[ended]),
            ok_latency_s=Percentiles.of_values(latency[ok]),
            uncorrected_latency_s=Percentiles.of_values((ops["end_s"] - ops["sent_s"])[ended]),
            lag_s=Percentiles.of_values(ops["sent_s"] - ops["intended_s"]),
            ttft_s=Percentiles.of_values(ops["ttft_s"][ok]),
            tpot_s=Percentiles.of_values(ops["tpot_s"][ok]),
            itl_s=Percentiles.of(itl),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, NaN as None."""
        data: dict[str, Any] = _nan_to_none(asdict(self))
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Summary:
        """Back from ``to_dict``."""
        values = dict(data)
        for name, value in data.items():
            if isinstance(value, dict) and "p50_s" in value:
                fields: dict[str, Any] = {k: math.nan if v is None else v for k, v in value.items()}
                values[name] = Percentiles(**fields)
        if values.get("error_rate") is None:
            values["error_rate"] = math.nan
        return cls(**values)


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value
