"""Baseline-versus-candidate statistics against hand-computed values and seeded simulations."""

import math

import numpy as np
import pytest

from benchmarks.stats import (
    clopper_pearson,
    compare_metrics,
    hodges_lehmann,
    holm,
    mann_whitney_u,
    min_p_value,
    runs_needed,
)


# Mann-Whitney U


def test_complete_separation_of_three_runs_gives_the_exact_p_of_one_in_ten() -> None:
    # Of the C(6, 3) = 20 equally likely orderings, one gives U = 0 and one U = 9.
    assert mann_whitney_u([1, 2, 3], [4, 5, 6]) == (0.0, pytest.approx(2 / 20))


def test_complete_separation_of_six_runs_gives_two_in_924() -> None:
    u, p = mann_whitney_u([7, 8, 9, 10, 11, 12], [1, 2, 3, 4, 5, 6])
    assert u == 36.0
    assert p == pytest.approx(2 / 924)


def test_interleaved_runs_use_the_exact_distribution() -> None:
    # U = 3 pairs where a wins; for 3 vs 3 the counts of U = 0..3 are 1, 1, 2, 3: P(U <= 3) = 7/20.
    assert mann_whitney_u([1, 3, 5], [2, 4, 6]) == (3.0, pytest.approx(2 * 7 / 20))


@pytest.mark.parametrize("sample", [[1.0, 2.0, 3.0, 4.0], [5.0, 5.0, 5.0]])
def test_identical_samples_give_p_one(sample: list[float]) -> None:
    u, p = mann_whitney_u(sample, sample)
    assert u == len(sample) ** 2 / 2
    assert p == 1.0


def test_ties_use_the_normal_approximation_with_tie_and_continuity_corrections() -> None:
    # Pooled: 1 | 2 2 2 | 3 3 | 4 | 5 -> mid-ranks 1, 3, 5.5, 7, 8; rank sum of a = 12.5.
    u, p = mann_whitney_u([1, 2, 2, 3], [2, 3, 4, 5])
    assert u == 12.5 - 4 * 5 / 2
    tie_term = ((3**3 - 3) + (2**3 - 2)) / (8 * 7)
    sd = math.sqrt(4 * 4 / 12 * (9 - tie_term))
    z = (abs(2.5 - 8) - 0.5) / sd
    assert p == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert p == pytest.approx(0.13666, abs=1e-5)


def test_large_samples_use_the_normal_approximation() -> None:
    u, p = mann_whitney_u(list(range(30)), list(range(30, 60)))
    assert u == 0.0
    z = (30 * 30 / 2 - 0.5) / math.sqrt(30 * 30 * 61 / 12)
    assert p == pytest.approx(math.erfc(z / math.sqrt(2)))


@pytest.mark.parametrize("with_ties", [False, True])
def test_swapping_the_samples_mirrors_u_and_keeps_p(with_ties: bool) -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        a, b = rng.normal(0, 1, size=7), rng.normal(0.5, 1, size=9)
        if with_ties:
            a, b = np.round(a), np.round(b)
        u, p = mann_whitney_u(list(a), list(b))
        u_swapped, p_swapped = mann_whitney_u(list(b), list(a))
        assert u_swapped == 7 * 9 - u
        assert p_swapped == pytest.approx(p)


@pytest.mark.parametrize(("a", "b"), [([], [1.0]), ([1.0], []), ([1.0, math.nan], [2.0])])
def test_empty_samples_and_nan_are_rejected(a: list[float], b: list[float]) -> None:
    with pytest.raises(ValueError, match=r"non-empty|NaN"):
        mann_whitney_u(a, b)


# Holm


def test_holm_matches_the_textbook_example() -> None:
    # Sorted: 0.005 * 4, 0.01 * 3, 0.03 * 2, 0.04 * 1 -> 0.02, 0.03, 0.06, max(0.04, 0.06).
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_is_monotone_never_below_the_raw_p_and_capped_at_one() -> None:
    raw = list(np.random.default_rng(3).uniform(0, 0.3, size=12))
    adjusted = holm(raw)
    order = np.argsort(raw)
    assert all(np.diff(np.asarray(adjusted)[order]) >= 0)
    assert all(adj >= p for adj, p in zip(adjusted, raw, strict=True))
    assert holm([0.5, 0.6, 0.9]) == [1.0, 1.0, 1.0]
    assert holm([]) == []


# Power of the exact test


def test_min_p_value_is_two_over_the_number_of_orderings() -> None:
    assert min_p_value(3, 3) == pytest.approx(0.1)
    assert min_p_value(6, 6) == pytest.approx(2 / 924)
    assert min_p_value(1, 1) == 1.0


def test_three_runs_cannot_show_anything_across_nine_metrics() -> None:
    per_metric_alpha = 0.05 / 9
    assert min_p_value(3, 3) >= per_metric_alpha
    assert min_p_value(5, 5) >= per_metric_alpha  # 2/252
    assert min_p_value(6, 6) < per_metric_alpha  # 2/924
    assert runs_needed(3, 3, per_metric_alpha) == 3
    assert runs_needed(8, 8, 0.05) == 0
    assert runs_needed(3, 3, 0.05) == 1  # 4 vs 4: 2/70


# Hodges-Lehmann


def test_a_constant_shift_is_estimated_exactly_and_covered() -> None:
    base = [101.0, 97.0, 99.5, 103.0, 100.0, 98.0, 102.5, 99.0]
    shift, low, high = hodges_lehmann(base, [v + 10 for v in base])
    assert shift == 10.0
    assert low < 10.0 < high


def test_too_few_runs_give_the_full_range_of_the_differences() -> None:
    assert hodges_lehmann([1.0, 2.0], [3.0, 5.0]) == (2.5, 1.0, 4.0)


def test_the_interval_covers_the_true_shift_at_least_as_often_as_promised() -> None:
    rng = np.random.default_rng(11)
    trials, covered = 200, 0
    for _ in range(trials):
        base = rng.lognormal(0, 0.5, size=10)
        candidate = rng.lognormal(0, 0.5, size=12) + 3.0
        _, low, high = hodges_lehmann(list(base), list(candidate))
        covered += low <= 3.0 <= high
    # A 95% interval misses Binomial(200, <= 0.05) times; more than 20 misses has chance < 0.2%.
    assert covered >= trials - 20


# compare_metrics


def _noisy(center: float, *, runs: int = 8, noise: float = 0.01, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(center * (1 + rng.normal(0, noise, size=runs)))


def test_a_twenty_percent_latency_increase_is_worse() -> None:
    [result] = compare_metrics({"p95_ms": (_noisy(100, seed=1), _noisy(120, seed=2), False)})
    assert result.verdict == "worse"
    assert result.relative_change == pytest.approx(0.2, abs=0.02)
    assert result.shift_low < result.shift < result.shift_high
    assert result.shift == pytest.approx(20, abs=2)
    assert result.p_value == pytest.approx(2 / 12870)
    assert result.more_runs_needed == 0
    assert "rose" in result.reason


@pytest.mark.parametrize(("candidate_rate", "verdict"), [(0.6, "worse"), (0.96, "better")])
def test_direction_follows_higher_is_better(candidate_rate: float, verdict: str) -> None:
    samples = {"cache_hit_rate": (_noisy(0.8, seed=1), _noisy(candidate_rate, seed=2), True)}
    [result] = compare_metrics(samples)
    assert result.verdict == verdict


def test_a_latency_decrease_is_better() -> None:
    [result] = compare_metrics({"p50_ms": (_noisy(100, seed=1), _noisy(80, seed=2), False)})
    assert result.verdict == "better"


def test_a_significant_two_percent_change_is_below_the_effect_floor() -> None:
    [result] = compare_metrics({"p50_ms": (_noisy(100, seed=1), _noisy(102, seed=2), False)})
    assert result.p_adjusted < 0.05
    assert result.verdict == "same"
    assert "no significant change of at least 5%" in result.reason
    [strict] = compare_metrics(
        {"p50_ms": (_noisy(100, seed=1), _noisy(102, seed=2), False)}, min_effect=0.01
    )
    assert strict.verdict == "worse"


def test_a_noisy_difference_that_is_not_significant_is_same() -> None:
    base, candidate = _noisy(100, noise=0.3, seed=1), _noisy(110, noise=0.3, seed=2)
    [result] = compare_metrics({"p99_ms": (base, candidate, False)})
    assert result.p_adjusted >= 0.05
    assert result.verdict == "same"


def test_two_runs_per_side_are_unknown_and_ask_for_more() -> None:
    [result] = compare_metrics({"p95_ms": ([100.0, 101.0], [150.0, 151.0], False)})
    assert result.verdict == "unknown"
    assert result.more_runs_needed == runs_needed(2, 2, 0.05) == 2
    assert "needs 2 more runs per side" in result.reason


def test_nine_metrics_with_three_runs_are_unknown_even_when_separated() -> None:
    samples = {
        f"metric_{i}": ([100.0, 101.0, 102.0], [200.0, 201.0, 202.0], False) for i in range(9)
    }
    results = compare_metrics(samples)
    assert [r.verdict for r in results] == ["unknown"] * 9
    assert all(r.more_runs_needed == 3 for r in results)
    assert "needs 3 more runs per side" in results[0].reason
    assert [r.metric for r in results] == list(samples)


def test_holm_adjusts_across_the_metrics_of_one_call() -> None:
    regressed = (_noisy(100, seed=1), _noisy(130, seed=2), False)
    flat = (_noisy(100, seed=3), _noisy(100, seed=4), False)
    results = compare_metrics({"a": regressed, "b": flat, "c": flat})
    assert results[0].p_adjusted == pytest.approx(3 * results[0].p_value)
    assert [r.verdict for r in results] == ["worse", "same", "same"]


def test_identical_runs_everywhere_are_same_with_p_one() -> None:
    [result] = compare_metrics({"error_rate": ([0.0] * 3, [0.0] * 3, False)}, min_runs=3)
    assert result.verdict == "same"
    assert result.p_value == result.p_adjusted == 1.0
    assert result.relative_change == 0.0


def test_errors_appearing_from_zero_are_worse() -> None:
    [result] = compare_metrics({"error_rate": ([0.0] * 8, [0.1, 0.12, 0.09, 0.11] * 2, False)})
    assert math.isnan(result.relative_change)
    assert result.verdict == "worse"


def test_nan_runs_are_dropped_and_too_few_left_is_unknown() -> None:
    base = [100.0, math.nan, math.nan, 101.0]
    [result] = compare_metrics({"p95_ms": (base, [120.0, 121.0, 122.0, 123.0], False)})
    assert result.baseline == (100.0, 101.0)
    assert result.verdict == "unknown"
    assert "2 NaN" in result.reason
    assert result.more_runs_needed >= 1
    [empty] = compare_metrics({"p95_ms": ([math.nan], [1.0, 2.0, 3.0], False)})
    assert empty.verdict == "unknown"
    assert math.isnan(empty.p_value)
    assert math.isnan(empty.shift)


@pytest.mark.parametrize("min_effect", [0.0, 0.05])
def test_a_over_a_false_alarms_stay_within_alpha(min_effect: float) -> None:
    # 200 seeded A/A comparisons of five metrics, 10 runs per side: with Holm, each comparison
    # raises any alarm with probability <= alpha = 0.05, so the count is at most Binomial(200, 0.05)
    # (mean 10); more than 20 has chance < 0.2%. Without Holm, five metrics would alarm in up to
    # 1 - 0.95**5 = 23% of the comparisons (34 of these 200): the bound catches a missing Holm.
    rng = np.random.default_rng(2024)
    alarms = 0
    for _ in range(200):
        samples = {}
        for metric in ("p50_ms", "p95_ms", "p99_ms", "throughput_rps", "hit_rate"):
            runs = rng.lognormal(mean=4.6, sigma=0.3, size=20)
            samples[metric] = (list(runs[:10]), list(runs[10:]), metric.endswith("rate"))
        verdicts = {r.verdict for r in compare_metrics(samples, min_effect=min_effect)}
        alarms += bool(verdicts & {"worse", "better"})
    assert alarms <= 20


def test_clopper_pearson_matches_the_published_exact_intervals():
    # Clopper and Pearson's exact 95% intervals, as tabulated (e.g. R's binom.test).
    assert clopper_pearson(0, 20) == pytest.approx((0.0, 0.16843), abs=1e-5)
    assert clopper_pearson(1, 20) == pytest.approx((0.00127, 0.24873), abs=1e-5)
    assert clopper_pearson(19, 20) == pytest.approx((0.75127, 0.99873), abs=1e-5)
    assert clopper_pearson(20, 20) == pytest.approx((0.83157, 1.0), abs=1e-5)
    assert clopper_pearson(5, 10) == pytest.approx((0.18709, 0.81291), abs=1e-5)


def test_clopper_pearson_refuses_impossible_counts():
    with pytest.raises(ValueError, match="successes"):
        clopper_pearson(3, 2)
