"""Baseline-versus-candidate statistics that do not cry wolf on a noisy machine.

Each metric (a latency percentile, a throughput, a hit rate) is measured once per run, with
several runs per side, ideally interleaved so that a drift of the machine hits both sides alike.
Each metric is compared as follows:

- A two-sided Mann-Whitney U test. It is non-parametric because latency percentiles are skewed
  and heavy-tailed: a t-test's normality assumption does not hold, and one slow run would dominate
  a mean. It uses the exact null distribution for small samples without ties, and the normal
  approximation with tie and continuity corrections otherwise.
- Holm-Bonferroni across the metrics compared together. Testing nine metrics at 5% each would
  flag about one A/A comparison in three; Holm keeps the family-wise false alarm rate at alpha
  and is never less powerful than plain Bonferroni.
- An effect-size floor on the relative change of the medians. On a quiet machine a 1% change can
  be significant, yet it is not a regression worth a red build.
- A Hodges-Lehmann shift with its distribution-free confidence interval, to say how large the
  change is and not only whether there is one.
- ``unknown`` instead of a guess when the runs are too few. With 3 runs per side the smallest
  possible two-sided p is 0.1, so not even a glaring regression could be shown; the verdict then
  says how many more runs per side would make it possible.

The same ideas are used by asv (Mann-Whitney and a minimum factor), benchstat (many interleaved
runs, Mann-Whitney) and Chromium Pinpoint (unknown, and more runs, rather than a guess).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import Literal

import numpy as np
import numpy.typing as npt


Verdict = Literal["better", "worse", "same", "unknown"]

EXACT_MAX_N = 25
"""Largest sample size per side for which the exact distribution of U is used."""

_FloatArray = npt.NDArray[np.float64]
_IntArray = npt.NDArray[np.int64]
Sample = Sequence[float] | _FloatArray
"""Values of one metric, one per run."""


def _as_sample(values: Sample, name: str) -> _FloatArray:
    sample = np.asarray(values, dtype=np.float64)
    if sample.ndim != 1 or sample.size == 0:
        raise ValueError(f"{name} must be a non-empty sequence of numbers")
    if np.isnan(sample).any():
        raise ValueError(f"{name} contains NaN: drop NaN values first")
    return sample


@lru_cache(maxsize=64)
def _u_counts(n_a: int, n_b: int) -> _IntArray:
    """How many orderings of n_a + n_b distinct values give each U of a, for U = 0..n_a*n_b."""
    # column[i] holds the counts for i values of a against j values of b. The largest value
    # either belongs to a (it beats all j values of b) or to b (it adds nothing to U of a).
    column = [np.ones(1, dtype=np.int64) for _ in range(n_a + 1)]
    for j in range(1, n_b + 1):
        previous = column
        column = [np.ones(1, dtype=np.int64)]
        for i in range(1, n_a + 1):
            counts = np.zeros(i * j + 1, dtype=np.int64)
            counts[j:] += column[i - 1]
            counts[: previous[i].size] += previous[i]
            column.append(counts)
    result = column[n_a]
    result.flags.writeable = False
    return result


def _exact_p(u: float, n_a: int, n_b: int) -> float:
    counts = _u_counts(n_a, n_b)
    index = round(u)
    tail = min(int(counts[: index + 1].sum()), int(counts[index:].sum()))
    return min(1.0, 2.0 * tail / int(counts.sum()))


def _normal_p(u: float, n_a: int, n_b: int, tie_sizes: _IntArray) -> float:
    n = n_a + n_b
    ties = float(np.sum(tie_sizes.astype(np.float64) ** 3 - tie_sizes)) / (n * (n - 1))
    variance = n_a * n_b / 12.0 * ((n + 1) - ties)
    if variance <= 0.0:
        return 1.0
    z = max(0.0, abs(u - n_a * n_b / 2.0) - 0.5) / math.sqrt(variance)
    return min(1.0, math.erfc(z / math.sqrt(2.0)))


def mann_whitney_u(a: Sample, b: Sample) -> tuple[float, float]:
    """(U statistic of a, two-sided p-value) of the Mann-Whitney U test.

    Exact when there are no ties and both samples have at most ``EXACT_MAX_N`` values; otherwise
    the normal approximation with tie and continuity corrections. Raises ValueError on an empty
    sample or NaN.
    """
    x, y = _as_sample(a, "a"), _as_sample(b, "b")
    n_a, n_b = x.size, y.size
    _, group, tie_sizes = np.unique(np.concatenate([x, y]), return_inverse=True, return_counts=True)
    group_ranks = np.cumsum(tie_sizes) - (tie_sizes - 1) / 2.0  # mid-rank of each tie group
    u = float(group_ranks[group[:n_a]].sum()) - n_a * (n_a + 1) / 2.0
    if tie_sizes.max() == 1 and max(n_a, n_b) <= EXACT_MAX_N:
        return u, _exact_p(u, n_a, n_b)
    return u, _normal_p(u, n_a, n_b, tie_sizes)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1), in the same order."""
    p = np.asarray(p_values, dtype=np.float64)
    if np.isnan(p).any() or (p < 0.0).any() or (p > 1.0).any():
        raise ValueError("p-values must lie in [0, 1]")
    order = np.argsort(p, kind="stable")
    scaled = p[order] * (p.size - np.arange(p.size))
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return [float(value) for value in adjusted]


def min_p_value(n_a: int, n_b: int) -> float:
    """The smallest two-sided p-value the exact test can give: 2 / C(n_a + n_b, n_a), at most 1."""
    if n_a < 0 or n_b < 0:
        raise ValueError("sample sizes must not be negative")
    return min(1.0, 2.0 / math.comb(n_a + n_b, n_a))


def runs_needed(n_a: int, n_b: int, alpha: float) -> int:
    """How many more runs per side (0 if none) before the exact test could reach p < alpha."""
    if alpha <= 0.0:
        raise ValueError("alpha must be positive")
    more = 0
    while min_p_value(n_a + more, n_b + more) >= alpha:
        more += 1
    return more


def clopper_pearson(
    successes: int, trials: int, *, confidence: float = 0.95
) -> tuple[float, float]:
    """The exact (Clopper-Pearson) confidence interval of a binomial proportion: how sure a
    count of false alarms or detections in ``trials`` comparisons is."""
    if not 0 <= successes <= trials or trials < 1:
        raise ValueError("need 0 <= successes <= trials and at least one trial")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must lie strictly between 0 and 1")
    tail = (1.0 - confidence) / 2.0

    def cdf(k: int, p: float) -> float:  # P(X <= k) for X ~ Binomial(trials, p)
        return math.fsum(
            math.comb(trials, i) * p**i * (1.0 - p) ** (trials - i) for i in range(k + 1)
        )

    low = (
        0.0
        if successes == 0
        else _bisect(lambda p: 1.0 - cdf(successes - 1, p) - tail, rising=True)
    )
    high = 1.0 if successes == trials else _bisect(lambda p: cdf(successes, p) - tail, rising=False)
    return low, high


_BISECT_TOLERANCE = 1e-12


def _bisect(f: Callable[[float], float], *, rising: bool) -> float:
    """The root of a monotone ``f`` on [0, 1], to ``_BISECT_TOLERANCE``."""
    low, high = 0.0, 1.0
    while high - low > _BISECT_TOLERANCE:
        middle = (low + high) / 2.0
        if (f(middle) < 0.0) == rising:
            low = middle
        else:
            high = middle
    return (low + high) / 2.0


def hodges_lehmann(a: Sample, b: Sample, *, confidence: float = 0.95) -> tuple[float, float, float]:
    """(estimate, low, high) of the shift b - a.

    The estimate is the median of all pairwise differences b_j - a_i; the interval runs between
    order statistics of those differences chosen from the normal approximation of the U quantile
    (the Mann-Whitney-based interval). When the samples are too small for the requested
    confidence, the interval is the full range of the differences.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must lie strictly between 0 and 1")
    x, y = _as_sample(a, "a"), _as_sample(b, "b")
    differences = np.sort(np.subtract.outer(y, x).ravel())
    n = differences.size
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    sigma = math.sqrt(x.size * y.size * (x.size + y.size + 1) / 12.0)
    # The largest u with P(U <= u) <= (1 - confidence) / 2, by the continuity-corrected normal
    # approximation; the interval [d(u+1), d(n-u)] then covers the shift with that confidence.
    cut = max(0, math.floor(n / 2.0 - z * sigma - 0.5))
    return float(np.median(differences)), float(differences[cut]), float(differences[n - 1 - cut])


@dataclass(frozen=True)
class MetricComparison:
    """The comparison of one metric between baseline and candidate runs (NaN values dropped)."""

    metric: str
    higher_is_better: bool
    baseline: tuple[float, ...]
    candidate: tuple[float, ...]
    baseline_median: float
    candidate_median: float
    relative_change: float
    """(candidate median - baseline median) / |baseline median|; NaN if only the baseline is 0."""
    shift: float
    """Hodges-Lehmann estimate of candidate - baseline."""
    shift_low: float
    shift_high: float
    p_value: float
    """Raw two-sided Mann-Whitney p (NaN when a side has no runs)."""
    p_adjusted: float
    """Holm-adjusted across the metrics compared together."""
    verdict: Verdict
    reason: str
    more_runs_needed: int


@dataclass(frozen=True)
class _Rules:
    alpha: float
    min_effect: float
    min_runs: int
    n_metrics: int


@dataclass(frozen=True)
class _Runs:
    """The runs of one metric on both sides, NaN values dropped (and counted)."""

    base: _FloatArray
    candidate: _FloatArray
    nan_dropped: int
    higher_is_better: bool

    @classmethod
    def of(cls, base: Sample, candidate: Sample, higher_is_better: bool) -> _Runs:
        sides = [np.asarray(values, dtype=np.float64) for values in (base, candidate)]
        nan_dropped = sum(int(np.isnan(side).sum()) for side in sides)
        base_runs, candidate_runs = (side[~np.isnan(side)] for side in sides)
        return cls(base_runs, candidate_runs, nan_dropped, higher_is_better)

    @property
    def testable(self) -> bool:
        return bool(self.base.size and self.candidate.size)


def _median(sample: _FloatArray) -> float:
    return float(np.median(sample)) if sample.size else math.nan


def _relative_change(base: float, candidate: float) -> float:
    if base == 0.0:
        return 0.0 if candidate == 0.0 else math.nan
    return (candidate - base) / abs(base)


def _describe_change(base: float, candidate: float, relative: float) -> str:
    if candidate == base:
        return f"median unchanged at {base:.4g}"
    verb = "rose" if candidate > base else "fell"
    percent = "" if math.isnan(relative) else f" ({relative:+.1%})"
    return f"median {verb} from {base:.4g} to {candidate:.4g}{percent}"


def _judge(runs: _Runs, shift: float, p_adjusted: float, rules: _Rules) -> tuple[Verdict, str, int]:
    """Verdict, reason and how many more runs per side are needed."""
    n_a, n_b = runs.base.size, runs.candidate.size
    needed = runs_needed(n_a, n_b, rules.alpha / rules.n_metrics)
    counts = f"{n_a} baseline and {n_b} candidate runs"
    if min(n_a, n_b) < rules.min_runs:
        more = max(needed, rules.min_runs - min(n_a, n_b))
        dropped = f" (after dropping {runs.nan_dropped} NaN values)" if runs.nan_dropped else ""
        reason = f"only {counts}{dropped}, fewer than {rules.min_runs} per side"
        return "unknown", f"{reason}: needs {more} more runs per side", more
    pooled = np.concatenate([runs.base, runs.candidate])
    if (pooled == pooled[0]).all():
        return "same", f"no change: every run gave {pooled[0]:.4g} on both sides", 0
    if needed:
        reason = (
            f"with {counts}, even a complete separation cannot reach p < {rules.alpha:g} "
            f"over {rules.n_metrics} metrics"
        )
        return "unknown", f"{reason}: needs {needed} more runs per side", needed
    base_median, candidate_median = _median(runs.base), _median(runs.candidate)
    relative = _relative_change(base_median, candidate_median)
    change = _describe_change(base_median, candidate_median, relative)
    direction = np.sign(candidate_median - base_median) or np.sign(shift)
    significant = p_adjusted < rules.alpha
    large = math.isnan(relative) or abs(relative) >= rules.min_effect  # a change from 0 is large
    if significant and large and direction:
        verdict: Verdict = "better" if (direction > 0) == runs.higher_is_better else "worse"
        return verdict, f"{change}, adjusted p = {p_adjusted:.2g} < {rules.alpha:g}", 0
    floor = f"no significant change of at least {rules.min_effect * 100:g}%: {change}"
    if significant:
        return "same", f"{floor}, adjusted p = {p_adjusted:.2g} but below the effect floor", 0
    return "same", f"{floor}, adjusted p = {p_adjusted:.2g} >= {rules.alpha:g}", 0


def compare_metrics(
    samples: Mapping[str, tuple[Sequence[float], Sequence[float], bool]],
    *,
    alpha: float = 0.05,
    min_effect: float = 0.05,
    min_runs: int = 3,
) -> list[MetricComparison]:
    """Compare each metric -> (baseline runs, candidate runs, higher_is_better), in input order.

    A metric is ``worse`` or ``better`` only when its Holm-adjusted p is below ``alpha`` and its
    medians differ by at least ``min_effect`` (relative); ``same`` means no such change was
    shown; ``unknown`` means too few runs to show one, and says how many more are needed.
    NaN values are dropped first.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must lie strictly between 0 and 1")
    if min_effect < 0.0 or min_runs < 1:
        raise ValueError("min_effect must not be negative and min_runs must be at least 1")
    rules = _Rules(alpha, min_effect, min_runs, n_metrics=len(samples))
    all_runs = {metric: _Runs.of(*sides) for metric, sides in samples.items()}
    p_values = [
        mann_whitney_u(runs.base, runs.candidate)[1] if runs.testable else math.nan
        for runs in all_runs.values()
    ]
    adjusted = holm([1.0 if math.isnan(p) else p for p in p_values])
    comparisons = []
    for (metric, runs), p, holm_p in zip(all_runs.items(), p_values, adjusted, strict=True):
        p_adjusted = holm_p if runs.testable else math.nan
        nan3 = (math.nan, math.nan, math.nan)
        shift = hodges_lehmann(runs.base, runs.candidate) if runs.testable else nan3
        verdict, reason, more = _judge(runs, shift[0], p_adjusted, rules)
        base_median, candidate_median = _median(runs.base), _median(runs.candidate)
        comparisons.append(
            MetricComparison(
                metric=metric,
                higher_is_better=runs.higher_is_better,
                baseline=tuple(runs.base.tolist()),
                candidate=tuple(runs.candidate.tolist()),
                baseline_median=base_median,
                candidate_median=candidate_median,
                relative_change=_relative_change(base_median, candidate_median),
                shift=shift[0],
                shift_low=shift[1],
                shift_high=shift[2],
                p_value=p,
                p_adjusted=p_adjusted,
                verdict=verdict,
                reason=reason,
                more_runs_needed=more,
            )
        )
    return comparisons
