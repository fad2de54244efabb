"""Retries: deadlines, backoff with full jitter, Retry-After, and the retry budget."""

import math
import random
import time
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from fake_clock import FakeClock
from hypothesis import given
from hypothesis import strategies as st

from reference_impl.retry import (
    RETRYABLE_STATUSES,
    Backoff,
    Deadline,
    RetryBudget,
    RetryPolicy,
    next_delay_s,
    retry_after_s,
)


NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC).timestamp()
NO_JITTER = RetryPolicy(max_attempts=3, backoff=Backoff(base_s=0.05, cap_s=1.0, jitter=False))


def seeded(seed: int = 1) -> random.Random:
    return random.Random(seed)  # noqa: S311 - backoff jitter, not crypto


def at_now() -> float:
    return NOW


def http_date(offset_s: float) -> str:
    return format_datetime(datetime.fromtimestamp(NOW + offset_s, tz=UTC), usegmt=True)


def test_retryable_statuses_are_timeouts_rate_limits_and_server_errors():
    assert {408, 429, 500, 502, 503, 504} == RETRYABLE_STATUSES
    assert 400 not in RETRYABLE_STATUSES
    assert 501 not in RETRYABLE_STATUSES


# Deadline


def test_deadline_shrinks_with_the_clock_and_never_goes_negative():
    clock = FakeClock()
    deadline = Deadline(2.0, clock=clock)
    assert deadline.remaining_s() == 2.0
    clock.advance(0.5)
    assert deadline.remaining_s() == 1.5
    assert deadline.timeout_s(1.0) == 1.0
    assert deadline.timeout_s(5.0) == 1.5
    assert not deadline.expired
    clock.advance(5.0)
    assert deadline.remaining_s() == 0.0
    assert deadline.timeout_s(1.0) == 0.0
    assert deadline.expired


def test_no_deadline_never_expires():
    clock = FakeClock()
    deadline = Deadline(None, clock=clock)
    clock.advance(1e9)
    assert deadline.remaining_s() == math.inf
    assert not deadline.expired
    assert deadline.timeout_s(30.0) == 30.0


@pytest.mark.parametrize("budget_s", [-1.0, float("nan")])
def test_deadline_rejects_a_negative_budget(budget_s):
    with pytest.raises(ValueError, match="budget_s"):
        Deadline(budget_s)


# Backoff


@pytest.mark.parametrize("retry", [1, 2, 3, 4, 5, 6, 7])
def test_full_jitter_spreads_over_the_whole_interval(retry):
    backoff = Backoff(base_s=0.05, cap_s=1.0)
    ceiling_s = min(1.0, 0.05 * 2 ** (retry - 1))
    rng = seeded(retry)
    delays = [backoff.delay_s(retry, rng) for _ in range(500)]
    assert all(0.0 <= delay <= ceiling_s for delay in delays)
    assert min(delays) < ceiling_s / 10
    assert max(delays) > ceiling_s * 9 / 10


def test_without_jitter_the_delay_is_the_ceiling_exactly():
    backoff = Backoff(base_s=0.05, cap_s=1.0, jitter=False)
    rng = seeded()
    state = rng.getstate()
    delays = [backoff.delay_s(retry, rng) for retry in range(1, 8)]
    assert delays == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert rng.getstate() == state


def test_a_very_late_retry_waits_the_cap():
    assert Backoff(jitter=False).delay_s(5000, seeded()) == 1.0


@pytest.mark.parametrize(
    ("kwargs", "field"), [({"base_s": 0.0}, "base_s"), ({"cap_s": -1.0}, "cap_s")]
)
def test_backoff_validation_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        Backoff(**kwargs)


def test_retry_numbers_start_at_one():
    with pytest.raises(ValueError, match="retry"):
        Backoff().delay_s(0, seeded())


# Retry-After


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250.5"}, 0.2505),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": " 2.5 "}, 2.5),
        ({"Retry-After": "7"}, 7.0),
        ({"RETRY-AFTER-MS": "100", "Retry-After": "9"}, 0.1),
        ({"retry-after": http_date(30)}, 30.0),
        ({"retry-after": http_date(-30)}, 0.0),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after-ms": "-3"}, 0.0),
        ({"retry-after-ms": "soon", "retry-after": "4"}, 4.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": ""}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "1_0"}, None),
        ({"retry-after-ms": "1e3"}, None),
        ({"retry-after": "0\x1f"}, None),
        ({"retry-after-ms": "0\x1f", "retry-after": "\t3"}, 3.0),
        ({"retry-after": "\u0663"}, None),
        ({"content-type": "application/json"}, None),
        ({}, None),
    ],
)
def test_retry_after_parsing(headers, expected):
    assert retry_after_s(headers, now=at_now) == expected


@pytest.fixture
def local_time_west_of_utc(monkeypatch):
    monkeypatch.setenv("TZ", "EST+05")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_date_without_a_zone_is_utc_whatever_the_local_zone(local_time_west_of_utc):
    headers = {"retry-after": "Sat, 01 Mar 2025 12:00:10 -0000"}
    assert retry_after_s(headers, now=at_now) == 10.0


@given(st.dictionaries(st.sampled_from(["retry-after", "Retry-After-Ms", "x"]), st.text()))
def test_retry_after_never_raises_and_is_never_negative(headers):
    wait_s = retry_after_s(headers, now=at_now)
    assert wait_s is None or (math.isfinite(wait_s) and wait_s >= 0)


# next_delay_s


def test_no_retry_once_the_attempts_are_used_up():
    deadline = Deadline(None)
    rng = seeded()
    assert next_delay_s(NO_JITTER, attempt=1, retry_after=None, deadline=deadline, rng=rng) == 0.05
    assert next_delay_s(NO_JITTER, attempt=2, retry_after=None, deadline=deadline, rng=rng) == 0.1
    assert next_delay_s(NO_JITTER, attempt=3, retry_after=None, deadline=deadline, rng=rng) is None
    one_attempt = RetryPolicy(max_attempts=1)
    assert (
        next_delay_s(one_attempt, attempt=1, retry_after=None, deadline=deadline, rng=rng) is None
    )


@pytest.mark.parametrize(
    ("retry_after", "budget_s", "expected"),
    [
        (2.0, 10.0, 2.0),  # longer than the backoff: honoured
        (0.01, 10.0, 0.05),  # shorter than the backoff: the backoff
        (3.0, 2.0, None),  # beyond the deadline: no retry, fall back now
        (2.0, 2.0, None),  # would leave no time for the attempt
        (None, 0.05, None),  # the backoff alone reaches the deadline
        (None, 0.06, 0.05),
    ],
)
def test_retry_after_is_honoured_within_the_deadline(retry_after, budget_s, expected):
    deadline = Deadline(budget_s, clock=FakeClock())
    delay_s = next_delay_s(
        NO_JITTER, attempt=1, retry_after=retry_after, deadline=deadline, rng=seeded()
    )
    assert delay_s == expected


def test_a_retry_after_past_the_longest_wait_means_no_retry_even_without_a_deadline():
    policy = RetryPolicy(backoff=Backoff(jitter=False))  # the longest wait: 30 s
    no_deadline = Deadline(None)
    for retry_after, expected in ((20.0, 20.0), (30.0, None), (3600.0, None)):
        delay_s = next_delay_s(
            policy, attempt=1, retry_after=retry_after, deadline=no_deadline, rng=seeded()
        )
        assert delay_s == expected


def test_retry_after_is_ignored_when_not_honoured():
    policy = RetryPolicy(backoff=Backoff(jitter=False), honour_retry_after=False)
    deadline = Deadline(2.0, clock=FakeClock())
    delay_s = next_delay_s(policy, attempt=1, retry_after=30.0, deadline=deadline, rng=seeded())
    assert delay_s == 0.05


def test_no_retry_past_an_expired_deadline():
    clock = FakeClock()
    deadline = Deadline(1.0, clock=clock)
    clock.advance(1.0)
    policy = RetryPolicy()
    assert (
        next_delay_s(policy, attempt=1, retry_after=None, deadline=deadline, rng=seeded()) is None
    )


def test_retry_policy_needs_one_attempt():
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


# RetryBudget


def test_the_budget_allows_ratio_retries_per_call():
    budget = RetryBudget(ratio=0.1, min_per_s=0.0, window_s=10.0, clock=FakeClock())
    for _ in range(100):
        budget.record_call()
    granted = sum(budget.try_spend() for _ in range(50))
    assert granted == 10


def test_the_budget_allows_fractional_ratios_to_their_integer():
    budget = RetryBudget(ratio=0.29, min_per_s=0.0, window_s=10.0, clock=FakeClock())
    for _ in range(100):
        budget.record_call()
    assert sum(budget.try_spend() for _ in range(50)) == 29


def test_the_floor_allows_retries_without_calls():
    budget = RetryBudget(ratio=0.1, min_per_s=1.0, window_s=10.0, clock=FakeClock())
    assert sum(budget.try_spend() for _ in range(50)) == 10


def test_spent_retries_slide_out_of_the_window():
    clock = FakeClock()
    budget = RetryBudget(ratio=0.0, min_per_s=0.5, window_s=10.0, clock=clock)
    assert sum(budget.try_spend() for _ in range(10)) == 5
    clock.advance(9.0)
    assert not budget.try_spend()
    clock.advance(1.0)
    assert sum(budget.try_spend() for _ in range(10)) == 5


def test_calls_slide_out_of_the_window_too():
    clock = FakeClock()
    budget = RetryBudget(ratio=0.5, min_per_s=0.0, window_s=10.0, clock=clock)
    for _ in range(10):
        budget.record_call()
    clock.advance(10.0)
    assert not budget.try_spend()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"ratio": -0.1}, "ratio"),
        ({"min_per_s": -1.0}, "min_per_s"),
        ({"window_s": 0.0}, "window_s"),
        ({"buckets": 0}, "buckets"),
    ],
)
def test_budget_validation_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        RetryBudget(**kwargs)


ADVANCE = st.integers(1, 24).map(lambda quarters: ("advance", quarters / 4))
OPERATIONS = st.lists(
    st.one_of(ADVANCE, st.just(("record_call", 0.0)), st.just(("try_spend", 0.0))),
    max_size=300,
)


@given(
    operations=OPERATIONS,
    ratio=st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0]),
    min_per_s=st.sampled_from([0.0, 0.25, 1.0]),
    window_s=st.sampled_from([2.0, 8.0]),
    buckets=st.sampled_from([1, 2, 4, 8]),
)
def test_granted_retries_never_exceed_the_bound_in_any_window(
    operations, ratio, min_per_s, window_s, buckets
):
    """At every retry: retries in the window ending then <= ratio * calls + min_per_s * window_s.

    The window kept in buckets reaches back between window_s - bucket_s and window_s, so
    the retries are counted over the shorter span and the calls over the longer one. The
    converse keeps the budget honest: a refusal means the bound was reached even counting
    the retries over the longer span and the calls over the shorter one.
    """
    clock = FakeClock(0.0)  # quarter seconds and power-of-two buckets: exact floats
    budget = RetryBudget(
        ratio=ratio, min_per_s=min_per_s, window_s=window_s, buckets=buckets, clock=clock
    )
    bucket_s = window_s / buckets
    floor = min_per_s * window_s
    calls: list[float] = []
    grants: list[float] = []

    def count(times: list[float], span_s: float) -> int:
        return sum(1 for t in times if t >= clock.now_s - span_s)

    for operation, seconds in operations:
        if operation == "advance":
            clock.advance(seconds)
        elif operation == "record_call":
            budget.record_call()
            calls.append(clock.now_s)
        elif budget.try_spend():
            grants.append(clock.now_s)
            assert count(grants, window_s - bucket_s) <= ratio * count(calls, window_s) + floor
        else:
            assert count(grants, window_s) + 1 > ratio * count(calls, window_s - bucket_s) + floor
