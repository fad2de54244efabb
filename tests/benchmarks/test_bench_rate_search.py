"""The capacity search: up the ladder, then bisection; each rate decided by majority."""

import pytest

from benchmarks.bench.rate_search import RateSearch, capacity, majority


SEARCH = RateSearch(step_rps=1000, resolution_rps=250, max_rps=6000)


def _search(capacity_rps: int) -> list[int]:
    """The rates tried against a generator that passes up to ``capacity_rps``."""
    passed: dict[int, bool] = {}
    tried = []
    while (rate := SEARCH.next_rate(passed)) is not None:
        tried.append(rate)
        passed[rate] = rate <= capacity_rps
    return tried


def test_the_ladder_climbs_to_a_failure_then_bisects_to_the_resolution():
    assert _search(3600) == [1000, 2000, 3000, 4000, 3500, 3750]
    assert capacity({1000: True, 2000: True, 3000: True, 4000: False, 3500: True, 3750: False}) == (
        3500
    )


def test_a_failure_at_the_first_rung_bisects_down_from_zero():
    assert _search(300) == [1000, 500, 250]
    assert capacity({1000: False, 500: False, 250: True}) == 250


def test_the_ladder_stops_at_max_rps():
    assert _search(10**6) == [1000, 2000, 3000, 4000, 5000, 6000]
    assert capacity(dict.fromkeys(range(1000, 7000, 1000), True)) == 6000


def test_a_pass_above_the_lowest_failure_is_noise():
    assert capacity({1000: True, 2000: False, 3000: True}) == 1000
    assert SEARCH.next_rate({1000: True, 2000: False, 3000: True}) == 1500


def test_nothing_passed_means_zero():
    assert capacity({}) == 0
    assert capacity({1000: False}) == 0


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ([True, True, False], True),
        ([True, False, False], False),
        ([True, False], False),
        ([], False),
    ],
)
def test_a_rate_passes_on_a_strict_majority(verdicts, expected):
    assert majority(verdicts) is expected


def test_the_search_parameters_are_checked():
    with pytest.raises(ValueError, match="resolution_rps <= step_rps"):
        RateSearch(step_rps=100, resolution_rps=250, max_rps=1000)
