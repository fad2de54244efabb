"""Arrival processes: counts, rates, zero-rate stretches, seeds and parameter checks."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from benchmarks.arrivals import Arrivals, Constant, Ramp, Sine, Stage, Stages


DURATION_S = 14.3
SHAPES = {
    "constant": Constant(200.0),
    "ramp": Ramp(0.0, 400.0, 10.0),
    "ramp_down": Ramp(300.0, 0.0, 12.0),
    "stages": Stages(
        (Stage(3.0, 100.0), Stage(2.0, 0.0), Stage(4.0, 300.0, ramp=True), Stage(3.0, 50.0))
    ),
    "sine": Sine(200.0, 200.0, 5.0),
    "sine_shallow": Sine(150.0, 40.0, 3.7),
}
DETERMINISTIC = settings(derandomize=True, database=None, deadline=None, max_examples=150)


def count_at(shape, t_s):
    return float(shape.expected_count(np.array([t_s], dtype=np.float64))[0])


def times(shape, process, duration_s=DURATION_S, seed=0):
    return Arrivals(shape, process).times(duration_s, np.random.default_rng(seed))


def ks_exponential(gaps):
    """The Kolmogorov-Smirnov distance between the gaps and Exp(1)."""
    x = np.sort(gaps)
    n = len(x)
    cdf = 1.0 - np.exp(-x)
    return max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))


def test_regular_constant_rate_is_evenly_spaced_from_zero():
    got = times(Constant(100.0), "regular", duration_s=1.0)
    np.testing.assert_array_equal(got, np.arange(100) / 100)


@pytest.mark.parametrize(
    ("duration_s", "expected"), [(0.0, 0), (0.001, 1), (0.5, 50), (1.0, 100), (1.005, 101)]
)
def test_regular_count_is_the_ceiling_of_the_expected_count(duration_s, expected):
    assert len(times(Constant(100.0), "regular", duration_s=duration_s)) == expected


@pytest.mark.parametrize("name", SHAPES)
def test_regular_arrivals_sit_at_whole_expected_counts(name):
    shape = SHAPES[name]
    got = times(shape, "regular")
    assert len(got) == math.ceil(count_at(shape, DURATION_S))
    np.testing.assert_allclose(shape.expected_count(got), np.arange(len(got)), atol=1e-6)


@pytest.mark.parametrize("name", SHAPES)
def test_regular_window_counts_follow_the_rate_within_one(name):
    shape = SHAPES[name]
    edges = np.arange(0.0, DURATION_S, 0.25)
    counts, _ = np.histogram(times(shape, "regular"), bins=edges)
    expected = np.diff(shape.expected_count(edges))
    assert np.all(np.abs(counts - expected) <= 1.0 + 1e-9)


@pytest.mark.parametrize("name", SHAPES)
@pytest.mark.parametrize("seed", range(5))
def test_poisson_count_is_within_four_sigma(name, seed):
    shape = SHAPES[name]
    expected = count_at(shape, DURATION_S)
    got = times(shape, "poisson", seed=seed)
    assert abs(len(got) - expected) <= 4 * math.sqrt(expected)
    assert np.all(np.diff(got) >= 0)
    assert got[0] >= 0
    assert got[-1] < DURATION_S


@pytest.mark.parametrize("name", SHAPES)
def test_poisson_window_counts_follow_the_rate(name):
    shape = SHAPES[name]
    scaled = 20  # twenty independent runs pooled: ~60,000 arrivals
    pooled = np.concatenate([times(shape, "poisson", seed=seed) for seed in range(scaled)])
    edges = np.arange(0.0, DURATION_S, 0.5)
    counts, _ = np.histogram(pooled, bins=edges)
    expected = scaled * np.diff(shape.expected_count(edges))
    assert np.all(counts[expected == 0] == 0)
    live = expected > 0
    chi2 = float(np.sum((counts[live] - expected[live]) ** 2 / expected[live]))
    dof = int(live.sum())
    assert chi2 < dof + 5 * math.sqrt(2 * dof)


def test_the_window_check_catches_arrivals_that_ignore_the_shape():
    shape = SHAPES["ramp"]
    uniform = np.sort(np.random.default_rng(0).uniform(0, DURATION_S, len(times(shape, "poisson"))))
    edges = np.arange(0.0, DURATION_S, 0.5)
    counts, _ = np.histogram(uniform, bins=edges)
    expected = np.diff(shape.expected_count(edges))
    chi2 = float(np.sum((counts - expected) ** 2 / expected))
    assert chi2 > len(expected) + 5 * math.sqrt(2 * len(expected))


@pytest.mark.parametrize("name", SHAPES)
def test_poisson_gaps_in_expected_count_are_unit_exponential(name):
    shape = SHAPES[name]
    got = times(shape, "poisson", duration_s=DURATION_S, seed=3)
    gaps = np.diff(shape.expected_count(got), prepend=0.0)
    assert ks_exponential(gaps) < 1.63 / math.sqrt(len(gaps))  # 1% level


def test_the_exponential_check_rejects_regular_gaps():
    got = times(SHAPES["sine"], "regular")
    gaps = np.diff(SHAPES["sine"].expected_count(got))
    assert ks_exponential(gaps) > 1.63 / math.sqrt(len(gaps))


@pytest.mark.parametrize("process", ["regular", "poisson"])
def test_no_arrivals_in_a_zero_rate_stage(process):
    shape = Stages((Stage(1.0, 500.0), Stage(2.0, 0.0), Stage(1.0, 500.0)))
    got = times(shape, process, duration_s=4.0)
    assert not np.any((got >= 1.0) & (got < 3.0))
    assert np.any(got < 1.0)
    assert np.any(got >= 3.0)


def test_regular_arrivals_resume_exactly_when_the_rate_does():
    got = times(Stages((Stage(1.0, 10.0), Stage(2.0, 0.0), Stage(1.0, 10.0))), "regular", 4.0)
    np.testing.assert_allclose(got, np.r_[np.arange(10) / 10, 3.0 + np.arange(10) / 10])
    leading = times(Stages((Stage(2.0, 0.0), Stage(1.0, 4.0))), "regular", 3.0)
    np.testing.assert_allclose(leading, [2.0, 2.25, 2.5, 2.75])


@pytest.mark.parametrize("process", ["regular", "poisson"])
def test_a_trailing_zero_rate_stage_holds_at_zero(process):
    got = times(Stages((Stage(1.0, 50.0), Stage(1.0, 0.0))), process, duration_s=10.0)
    assert len(got) > 0
    assert got[-1] < 1.0


@pytest.mark.parametrize("shape", [Constant(0.0), Ramp(0.0, 0.0, 1.0), Sine(0.0, 0.0, 1.0)])
@pytest.mark.parametrize("process", ["regular", "poisson"])
def test_zero_rate_everywhere_makes_no_arrivals(shape, process):
    assert len(times(shape, process, duration_s=10.0)) == 0


def test_stages_ramp_from_the_previous_stage_and_hold_the_last_rate():
    shape = Stages((Stage(2.0, 100.0), Stage(2.0, 300.0, ramp=True), Stage(1.0, 0.0)))
    at = np.array([0.0, 1.9, 2.0, 3.0, 4.0, 4.5, 10.0])
    np.testing.assert_allclose(shape.rate_rps_at(at), [100, 100, 100, 200, 0, 0, 0])
    np.testing.assert_allclose(shape.expected_count(np.array([2.0, 4.0, 9.0])), [200, 600, 600])
    first = Stages((Stage(2.0, 100.0, ramp=True),))
    np.testing.assert_allclose(first.rate_rps_at(np.array([0.0, 1.0, 2.0, 5.0])), [0, 50, 100, 100])


def test_ramp_is_linear_then_holds_its_end_rate():
    shape = Ramp(0.0, 100.0, 10.0)
    rate = shape.rate_rps_at(np.array([0.0, 5.0, 10.0, 20.0]))
    np.testing.assert_allclose(rate, [0, 50, 100, 100])
    np.testing.assert_allclose(shape.expected_count(np.array([10.0, 12.0])), [500, 700])


def test_sine_starts_at_the_mean_and_stays_within_its_amplitude():
    shape = Sine(100.0, 60.0, 8.0)
    t = np.linspace(0, 40, 10_001)
    rate = shape.rate_rps_at(t)
    assert rate[0] == pytest.approx(100.0)
    assert rate.min() == pytest.approx(40.0, abs=1e-3)
    assert rate.max() == pytest.approx(160.0, abs=1e-3)
    assert count_at(shape, 8.0) == pytest.approx(800.0)
    assert count_at(shape, 2.0) > 200.0  # the first quarter is above the mean


@pytest.mark.parametrize("name", SHAPES)
def test_expected_count_is_the_integral_of_the_rate(name):
    shape = SHAPES[name]
    t = np.linspace(0.0, DURATION_S, 143_001)
    rate = shape.rate_rps_at(t)
    integral = np.concatenate(([0.0], np.cumsum((rate[1:] + rate[:-1]) / 2 * np.diff(t))))
    np.testing.assert_allclose(shape.expected_count(t), integral, atol=0.05)


@pytest.mark.parametrize("process", ["regular", "poisson"])
def test_any_rate_shape_works_through_numerical_inversion(process):
    class Linear:
        """rate 2t, so Λ(t) = t² and Λ⁻¹(k) = √k."""

        def rate_rps_at(self, t_s):
            return 2.0 * t_s

        def expected_count(self, t_s):
            return t_s * t_s

    got = Arrivals(Linear(), process).times(30.0, np.random.default_rng(0))
    if process == "regular":
        np.testing.assert_allclose(got, np.sqrt(np.arange(900)), atol=1e-9)
    else:
        assert abs(len(got) - 900) <= 4 * 30
        assert ks_exponential(np.diff(got**2, prepend=0.0)) < 1.63 / math.sqrt(len(got))


def test_same_seed_same_times_and_another_seed_other_times():
    a = times(SHAPES["sine"], "poisson", seed=11)
    np.testing.assert_array_equal(a, times(SHAPES["sine"], "poisson", seed=11))
    assert not np.array_equal(a[:100], times(SHAPES["sine"], "poisson", seed=12)[:100])


def test_regular_arrivals_do_not_depend_on_the_generator():
    np.testing.assert_array_equal(
        times(SHAPES["stages"], "regular", seed=1), times(SHAPES["stages"], "regular", seed=2)
    )


def test_a_longer_poisson_run_begins_with_the_same_arrivals():
    short = times(SHAPES["ramp"], "poisson", duration_s=5.0, seed=4)
    long = times(SHAPES["ramp"], "poisson", duration_s=50.0, seed=4)
    np.testing.assert_array_equal(long[long < 5.0], short)


def test_a_million_arrivals():
    got = times(Sine(500_000.0, 300_000.0, 1.0), "poisson", duration_s=2.0)
    assert abs(len(got) - 1_000_000) <= 4_000


@DETERMINISTIC
@given(
    stages=st.lists(
        st.tuples(
            st.floats(0.1, 5.0),
            st.one_of(st.just(0.0), st.floats(1.0, 200.0)),
            st.booleans(),
        ),
        min_size=1,
        max_size=6,
    ),
    duration_s=st.floats(0.0, 30.0),
    process=st.sampled_from(["regular", "poisson"]),
)
def test_any_stages_give_sorted_arrivals_where_the_rate_is_positive(stages, duration_s, process):
    shape = Stages(tuple(Stage(d, r, ramp=ramp) for d, r, ramp in stages))
    expected = count_at(shape, duration_s)
    got = times(shape, process, duration_s=duration_s)
    assert np.all(np.diff(got) >= 0)
    assert np.all((got >= 0) & (got < duration_s))
    assert np.all(shape.rate_rps_at(got + 1e-9) > 0)
    if process == "regular":
        assume(abs(expected - round(expected)) > 1e-6)
        assert len(got) == math.ceil(expected)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Constant(-1.0), "rate_rps"),
        (lambda: Constant(math.nan), "rate_rps"),
        (lambda: Constant(math.inf), "rate_rps"),
        (lambda: Ramp(-1.0, 1.0, 1.0), "start_rps"),
        (lambda: Ramp(1.0, -1.0, 1.0), "end_rps"),
        (lambda: Ramp(1.0, 2.0, 0.0), "over_s"),
        (lambda: Stage(0.0, 1.0), "duration_s"),
        (lambda: Stage(1.0, -5.0), "rate_rps"),
        (lambda: Stages(()), "stages must not be empty"),
        (lambda: Sine(-1.0, 0.0, 1.0), "mean_rps"),
        (lambda: Sine(1.0, -1.0, 1.0), "amplitude_rps"),
        (lambda: Sine(10.0, 11.0, 1.0), r"amplitude_rps \(11.0\) must not exceed mean_rps"),
        (lambda: Sine(10.0, 1.0, 0.0), "period_s"),
        (lambda: Arrivals(Constant(1.0), "bursty"), "process must be one of"),  # type: ignore[arg-type]
        (lambda: Arrivals(Constant(1.0)).times(-1.0, np.random.default_rng()), "duration_s"),
        (lambda: Arrivals(Constant(1.0)).times(math.inf, np.random.default_rng()), "duration_s"),
    ],
)
def test_bad_parameters_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Stages((Stage(1.0, 1.0), (1.0, 2.0))), r"stages\[1\] must be a Stage"),
        (lambda: Stage(1.0, 1.0, ramp="yes"), "ramp must be a bool"),
        (lambda: Arrivals(100.0), "shape must be a RateShape"),
    ],
)
def test_wrong_types_are_named(make, match):
    with pytest.raises(TypeError, match=match):
        make()


def test_stages_accept_a_list():
    assert Stages([Stage(1.0, 2.0)]).stages == (Stage(1.0, 2.0),)
