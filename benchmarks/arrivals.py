"""Arrival processes: the intended times at which clicks arrive, open loop.

A rate shape gives the intended rate r(t) and its integral, the expected count
Λ(t) = ∫₀ᵗ r. Arrivals are placed in Λ-space and mapped back through the
right-continuous inverse Λ⁻¹(u) = inf{t : Λ(t) > u}, so that no arrival ever falls
in a stretch where the rate is zero:

- ``regular``: the k-th arrival (k = 0, 1, 2, ...) is at Λ⁻¹(k). Over [0, D) that
  makes exactly ceil(Λ(D)) arrivals; a constant 100 rps gives t = 0, 0.01, 0.02, ...
- ``poisson``: a non-homogeneous Poisson process, from unit-rate exponential gaps in
  Λ-space mapped through Λ⁻¹ (the time-change theorem); its count over [0, D) is
  Poisson(Λ(D)).

The built-in shapes invert Λ in closed form (``Constant``, ``Ramp``, ``Stages``) or on
a fine grid refined by Newton steps (``Sine``); any other ``RateShape`` is inverted on
a grid over the run.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt


Floats = npt.NDArray[np.float64]
Process = Literal["regular", "poisson"]
PROCESSES: tuple[Process, ...] = ("regular", "poisson")

_GRID_CELLS_PER_PERIOD = 4096
_GRID_CELLS_PER_RUN = 1 << 16
_NEWTON_STEPS = 2


@runtime_checkable
class RateShape(Protocol):
    """The intended arrival rate over time, at offsets (s) from the start of the run."""

    def rate_rps_at(self, t_s: Floats) -> Floats:
        """The instantaneous intended rate (rps) at offsets ``t_s``."""

    def expected_count(self, t_s: Floats) -> Floats:
        """The cumulative intensity Λ(t) = ∫₀ᵗ rate: non-decreasing, Λ(0) = 0."""


@runtime_checkable
class InvertibleShape(RateShape, Protocol):
    """A rate shape that inverts its own cumulative intensity."""

    def time_at_count(self, count: Floats) -> Floats:
        """Λ⁻¹(count) = inf{t : Λ(t) > count}; inf where Λ never exceeds ``count``."""


def _check_rate(name: str, value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite rate >= 0 rps, got {value!r}")


def _check_positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")


@dataclass(frozen=True, eq=False)
class _Piecewise:
    """A piecewise-linear rate; the last segment is endless and flat."""

    start_s: Floats
    length_s: Floats
    rate0_rps: Floats
    slope_rps_per_s: Floats
    count0: Floats

    @classmethod
    def of(cls, pieces: Sequence[tuple[float, float, float]], tail_rps: float) -> _Piecewise:
        """Segments of ``(duration_s, start_rps, end_rps)``, then ``tail_rps`` forever."""
        length = np.array([p[0] for p in pieces], dtype=np.float64)
        rate0 = np.array([p[1] for p in pieces], dtype=np.float64)
        rate1 = np.array([p[2] for p in pieces], dtype=np.float64)
        return cls(
            start_s=np.concatenate(([0.0], np.cumsum(length))),
            length_s=np.append(length, math.inf),
            rate0_rps=np.append(rate0, tail_rps),
            slope_rps_per_s=np.append((rate1 - rate0) / length, 0.0),
            count0=np.concatenate(([0.0], np.cumsum(0.5 * (rate0 + rate1) * length))),
        )

    def _locate(self, t_s: Floats) -> tuple[npt.NDArray[np.intp], Floats]:
        t = np.maximum(np.asarray(t_s, dtype=np.float64), 0.0)
        i = np.searchsorted(self.start_s, t, side="right") - 1
        return i, t - self.start_s[i]

    def rate(self, t_s: Floats) -> Floats:
        i, tau = self._locate(t_s)
        return self.rate0_rps[i] + self.slope_rps_per_s[i] * tau

    def count(self, t_s: Floats) -> Floats:
        i, tau = self._locate(t_s)
        return self.count0[i] + tau * (self.rate0_rps[i] + 0.5 * self.slope_rps_per_s[i] * tau)

    def time_at(self, count: Floats) -> Floats:
        u = np.asarray(count, dtype=np.float64)
        i = np.maximum(np.searchsorted(self.count0, u, side="right") - 1, 0)
        v = np.maximum(u - self.count0[i], 0.0)
        r0 = self.rate0_rps[i]
        slope = self.slope_rps_per_s[i]
        # tau solves r0·tau + slope·tau²/2 = v, in the form that stays exact at slope = 0.
        root = np.sqrt(np.maximum(r0 * r0 + 2.0 * slope * v, 0.0))
        den = np.where(slope == 0, r0, 0.5 * (r0 + root))
        with np.errstate(divide="ignore", invalid="ignore"):
            tau = np.where(den > 0, v / den, np.where(slope > 0, 0.0, math.inf))
        return self.start_s[i] + np.minimum(tau, self.length_s[i])


class _PiecewiseShape(ABC):
    """The methods of a shape whose rate is piecewise linear."""

    @abstractmethod
    def _piecewise(self) -> _Piecewise: ...

    def rate_rps_at(self, t_s: Floats) -> Floats:
        """The instantaneous intended rate (rps) at offsets ``t_s``."""
        return self._piecewise().rate(t_s)

    def expected_count(self, t_s: Floats) -> Floats:
        """Λ(t) = ∫₀ᵗ rate, in closed form."""
        return self._piecewise().count(t_s)

    def time_at_count(self, count: Floats) -> Floats:
        """Λ⁻¹(count) = inf{t : Λ(t) > count}, in closed form."""
        return self._piecewise().time_at(count)


@dataclass(frozen=True)
class Constant(_PiecewiseShape):
    """The same rate for the whole run."""

    rate_rps: float

    def __post_init__(self) -> None:
        _check_rate("rate_rps", self.rate_rps)

    def _piecewise(self) -> _Piecewise:
        return _Piecewise.of((), self.rate_rps)


@dataclass(frozen=True)
class Ramp(_PiecewiseShape):
    """A linear ramp from ``start_rps`` to ``end_rps`` over ``over_s``, then ``end_rps``."""

    start_rps: float
    end_rps: float
    over_s: float

    def __post_init__(self) -> None:
        _check_rate("start_rps", self.start_rps)
        _check_rate("end_rps", self.end_rps)
        _check_positive("over_s", self.over_s)

    def _piecewise(self) -> _Piecewise:
        return _Piecewise.of(((self.over_s, self.start_rps, self.end_rps),), self.end_rps)


@dataclass(frozen=True)
class Stage:
    """``rate_rps`` for ``duration_s``; with ``ramp``, a linear ramp to it from the stage before."""

    duration_s: float
    rate_rps: float
    ramp: bool = False

    def __post_init__(self) -> None:
        _check_positive("duration_s", self.duration_s)
        _check_rate("rate_rps", self.rate_rps)
        if not isinstance(self.ramp, bool):
            raise TypeError(f"ramp must be a bool, got {self.ramp!r}")


@dataclass(frozen=True)
class Stages(_PiecewiseShape):
    """Stages one after another; after the last one its rate holds.

    A first stage with ``ramp`` ramps up from 0 rps.
    """

    stages: tuple[Stage, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))
        if not self.stages:
            raise ValueError("stages must not be empty")
        for index, stage in enumerate(self.stages):
            if not isinstance(stage, Stage):
                raise TypeError(f"stages[{index}] must be a Stage, got {stage!r}")

    def _piecewise(self) -> _Piecewise:
        pieces = []
        previous_rps = 0.0
        for stage in self.stages:
            start_rps = previous_rps if stage.ramp else stage.rate_rps
            pieces.append((stage.duration_s, start_rps, stage.rate_rps))
            previous_rps = stage.rate_rps
        return _Piecewise.of(pieces, previous_rps)


@dataclass(frozen=True)
class Sine:
    """``mean_rps + amplitude_rps·sin(2πt/period_s)``: starts at the mean, rising."""

    mean_rps: float
    amplitude_rps: float
    period_s: float

    def __post_init__(self) -> None:
        _check_rate("mean_rps", self.mean_rps)
        _check_rate("amplitude_rps", self.amplitude_rps)
        _check_positive("period_s", self.period_s)
        if self.amplitude_rps > self.mean_rps:
            raise ValueError(
                f"amplitude_rps ({self.amplitude_rps}) must not exceed mean_rps"
                f" ({self.mean_rps}): the rate would go negative"
            )

    def rate_rps_at(self, t_s: Floats) -> Floats:
        """The instantaneous intended rate (rps) at offsets ``t_s``."""
        t = np.maximum(np.asarray(t_s, dtype=np.float64), 0.0)
        return self.mean_rps + self.amplitude_rps * np.sin(2.0 * math.pi * t / self.period_s)

    def expected_count(self, t_s: Floats) -> Floats:
        """Λ(t) = mean·t + amplitude·(period/π)·sin²(πt/period)."""
        t = np.maximum(np.asarray(t_s, dtype=np.float64), 0.0)
        wave = np.sin(math.pi * t / self.period_s) ** 2
        return self.mean_rps * t + self.amplitude_rps * self.period_s / math.pi * wave

    def time_at_count(self, count: Floats) -> Floats:
        """Λ⁻¹(count): whole periods in closed form, the rest on a grid over one period."""
        u = np.asarray(count, dtype=np.float64)
        per_period = self.mean_rps * self.period_s
        if per_period == 0:
            return np.full(u.shape, math.inf)
        periods = np.floor(u / per_period)
        rest = u - periods * per_period
        within = _invert_on_grid(self, rest, self.period_s, _GRID_CELLS_PER_PERIOD)
        return periods * self.period_s + within


def _invert_on_grid(shape: RateShape, count: Floats, horizon_s: float, cells: int) -> Floats:
    """Λ⁻¹ on [0, horizon_s] by linear interpolation on a grid, refined by Newton steps.

    Counts at or beyond Λ(horizon_s) map to ``horizon_s``.
    """
    grid_t = np.linspace(0.0, horizon_s, cells + 1)
    grid_u = np.maximum.accumulate(shape.expected_count(grid_t))
    i = np.clip(np.searchsorted(grid_u, count, side="right") - 1, 0, cells - 1)
    lo_t, hi_t = grid_t[i], grid_t[i + 1]
    lo_u, width = grid_u[i], grid_u[i + 1] - grid_u[i]
    frac = np.divide(count - lo_u, width, out=np.zeros_like(count), where=width > 0)
    t = lo_t + np.clip(frac, 0.0, 1.0) * (hi_t - lo_t)
    for _ in range(_NEWTON_STEPS):
        rate = shape.rate_rps_at(t)
        excess = shape.expected_count(t) - count
        step = np.divide(excess, rate, out=np.zeros_like(t), where=rate > 0)
        t = np.clip(t - step, lo_t, hi_t)
    return np.where(count >= grid_u[-1], horizon_s, t)


@dataclass(frozen=True)
class Arrivals:
    """A rate shape and a process: ``regular`` (evenly spaced in Λ) or ``poisson``."""

    shape: RateShape
    process: Process = "poisson"

    def __post_init__(self) -> None:
        if not isinstance(self.shape, RateShape):
            raise TypeError(
                f"shape must be a RateShape (Constant, Ramp, Stages, Sine), got {self.shape!r}"
            )
        if self.process not in PROCESSES:
            raise ValueError(f"process must be one of {PROCESSES}, got {self.process!r}")

    def times(self, duration_s: float, rng: np.random.Generator) -> Floats:
        """Sorted arrival offsets in [0, duration_s); ``regular`` draws nothing from ``rng``."""
        if not (math.isfinite(duration_s) and duration_s >= 0):
            raise ValueError(f"duration_s must be finite and >= 0, got {duration_s!r}")
        total = float(self.shape.expected_count(np.array([duration_s]))[0])
        if self.process == "regular":
            counts = np.arange(math.ceil(total) + 1, dtype=np.float64)
        else:
            counts = _poisson_counts(total, rng)
        if isinstance(self.shape, InvertibleShape):
            t = self.shape.time_at_count(counts)
        else:
            t = _invert_on_grid(self.shape, counts, duration_s, _GRID_CELLS_PER_RUN)
        if t.size:
            t = np.maximum.accumulate(t)  # sorted, even where rounding would swap neighbours
        return t[t < duration_s]


def _poisson_counts(total: float, rng: np.random.Generator) -> Floats:
    """Points of a unit-rate Poisson process on [0, total), from exponential gaps.

    Gaps are drawn in chunks, so a longer run begins with the same arrivals.
    """
    chunk = int(total + 6.0 * math.sqrt(total)) + 16
    chunks = []
    last = 0.0
    while last < total:
        points = last + np.cumsum(rng.standard_exponential(chunk))
        chunks.append(points)
        last = float(points[-1])
        chunk = chunk // 4 + 16
    points = np.concatenate(chunks) if chunks else np.empty(0)
    return points[points < total]
