"""The perfect-cache oracle, on hand-built schedules and against a plain Python loop."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.arrivals import Arrivals, Sine
from benchmarks.oracle import (
    distinct_requests_per_window,
    min_upstream_calls,
    upstream_fills,
)
from benchmarks.popularity import PromptCatalogue
from benchmarks.schedule import Schedule
from benchmarks.workload import EndpointShare, FanOut, TenantShare, Workload


DETERMINISTIC = settings(derandomize=True, database=None, deadline=None, max_examples=300)


def schedule_of(rows, *, duration_s=None):
    """A schedule of (intended_s, tenant, endpoint, prompt) rows, sorted by time."""
    rows = sorted(rows, key=lambda r: r[0])
    n = len(rows)
    column = lambda i, dtype: np.array([r[i] for r in rows], dtype=dtype)  # noqa: E731
    return Schedule(
        intended_s=column(0, np.float64),
        tenant=column(1, np.uint16),
        endpoint=column(2, np.uint8),
        prompt=column(3, np.int32),
        click=np.arange(n, dtype=np.int32),
        part=np.zeros(n, dtype=np.uint8),
        row=np.arange(n, dtype=np.int64),
        tenants=("a", "b", "c"),
        endpoints=("chat", "embeddings"),
        duration_s=duration_s,
    )


def keyed_times(schedule, shared):
    """(time, cache key) per request, in schedule order."""
    columns = zip(
        schedule.intended_s.tolist(),
        schedule.tenant.tolist(),
        schedule.endpoint.tolist(),
        schedule.prompt.tolist(),
        strict=True,
    )
    for t, tenant, endpoint, prompt in columns:
        yield t, (endpoint, prompt) if shared else (tenant, endpoint, prompt)


def brute_force_fills(schedule, ttl_s, shared):
    last_fill = {}
    fills = []
    for t, key in keyed_times(schedule, shared):
        fill = key not in last_fill or t >= last_fill[key] + ttl_s
        if fill:
            last_fill[key] = t
        fills.append(fill)
    return np.array(fills, dtype=bool)


def brute_force_distinct(schedule, window_s, shared):
    windows = {}
    for t, key in keyed_times(schedule, shared):
        windows.setdefault(math.floor(t / window_s), set()).add(key)
    return windows


HAND = schedule_of(
    [
        (0.1, 0, 0, 1),
        (0.2, 0, 0, 1),
        (0.5, 0, 0, 2),
        (1.2, 0, 0, 1),
        (1.3, 1, 0, 1),
        (2.9, 0, 1, 1),
        (2.95, 1, 1, 1),
    ]
)


def test_distinct_requests_per_window_by_hand():
    np.testing.assert_array_equal(distinct_requests_per_window(HAND, 1.0), [2, 2, 2])
    shared = distinct_requests_per_window(HAND, 1.0, shared_across_tenants=True)
    np.testing.assert_array_equal(shared, [2, 1, 1])
    np.testing.assert_array_equal(distinct_requests_per_window(HAND, 10.0), [5])
    assert distinct_requests_per_window(HAND, 1.0).dtype == np.int64


def test_windows_cover_the_whole_duration():
    schedule = schedule_of([(0.5, 0, 0, 1), (1.5, 0, 0, 2)], duration_s=5.0)
    np.testing.assert_array_equal(distinct_requests_per_window(schedule, 1.0), [1, 1, 0, 0, 0])
    np.testing.assert_array_equal(distinct_requests_per_window(schedule, 2.0), [2, 0, 0])
    empty = schedule_of([], duration_s=3.0)
    np.testing.assert_array_equal(distinct_requests_per_window(empty, 1.0), [0, 0, 0])
    assert len(distinct_requests_per_window(schedule_of([]), 1.0)) == 0


def test_a_key_is_filled_again_a_ttl_after_its_last_fill_not_its_last_request():
    # Requests every 50 s: a TTL counted from the last request would never refill.
    schedule = schedule_of([(t, 0, 0, 7) for t in (0.0, 50.0, 100.0, 150.0)])
    assert min_upstream_calls(schedule, 60.0) == 2
    np.testing.assert_array_equal(upstream_fills(schedule, 60.0), [True, False, True, False])


def test_a_request_exactly_one_ttl_after_the_fill_refills():
    times = (0.0, 30.0, 59.9, 60.0, 100.0, 119.9, 120.5)
    schedule = schedule_of([(t, 0, 0, 7) for t in times])
    fills = upstream_fills(schedule, 60.0)
    np.testing.assert_array_equal(fills, [True, False, False, True, False, False, True])


def test_identical_requests_in_flight_coalesce():
    schedule = schedule_of([(1.0, 0, 0, 3)] * 5 + [(1.0, 0, 0, 4)] * 2)
    assert min_upstream_calls(schedule, 0.001) == 2


def test_tenants_share_only_when_asked():
    schedule = schedule_of([(0.0, 0, 0, 1), (0.1, 1, 0, 1), (0.2, 2, 0, 1), (0.3, 2, 1, 1)])
    assert min_upstream_calls(schedule, 60.0) == 4
    assert min_upstream_calls(schedule, 60.0, shared_across_tenants=True) == 2


def test_infinite_ttl_counts_distinct_keys_and_zero_ttl_counts_every_request():
    assert min_upstream_calls(HAND, math.inf) == 5
    assert min_upstream_calls(HAND, math.inf, shared_across_tenants=True) == 3
    assert min_upstream_calls(HAND, 0.0) == len(HAND)
    assert min_upstream_calls(schedule_of([]), 60.0) == 0
    assert min_upstream_calls(schedule_of([]), math.inf) == 0


@pytest.mark.parametrize("ttl_s", [-1.0, math.nan])
def test_bad_ttls_are_refused(ttl_s):
    with pytest.raises(ValueError, match="ttl_s"):
        min_upstream_calls(HAND, ttl_s)


@pytest.mark.parametrize("window_s", [0.0, -1.0, math.inf, math.nan])
def test_bad_windows_are_refused(window_s):
    with pytest.raises(ValueError, match="window_s"):
        distinct_requests_per_window(HAND, window_s)


@pytest.fixture(scope="module")
def generated():
    workload = Workload(
        Arrivals(Sine(2000.0, 1500.0, 6.0)),
        tenants=(TenantShare("a", 1.0), TenantShare("b", 1.0), TenantShare("c", 4.0)),
        endpoints=(EndpointShare("chat", 2.0), EndpointShare("embeddings", 1.0)),
        prompts=PromptCatalogue(templates=5, entities=60, skew=1.3),
        fanout=FanOut(1, 3),
        seed=1,
    )
    return workload.schedule(12.0)


@pytest.mark.parametrize("ttl_s", [0.0, 0.01, 0.5, 3.0, 10.0, math.inf])
@pytest.mark.parametrize("shared", [False, True])
def test_fills_agree_with_a_plain_loop_on_a_generated_schedule(generated, ttl_s, shared):
    expected = brute_force_fills(generated, ttl_s, shared)
    got = upstream_fills(generated, ttl_s, shared_across_tenants=shared)
    np.testing.assert_array_equal(got, expected)
    assert min_upstream_calls(generated, ttl_s, shared_across_tenants=shared) == expected.sum()


@pytest.mark.parametrize("window_s", [0.25, 1.0, 5.0])
@pytest.mark.parametrize("shared", [False, True])
def test_distinct_counts_agree_with_a_plain_loop(generated, window_s, shared):
    got = distinct_requests_per_window(generated, window_s, shared_across_tenants=shared)
    expected = brute_force_distinct(generated, window_s, shared)
    assert len(got) == math.ceil(12.0 / window_s)
    assert {k: v for k, v in enumerate(got.tolist()) if v} == {
        k: len(keys) for k, keys in expected.items()
    }


def test_a_longer_ttl_never_needs_more_calls(generated):
    calls = [min_upstream_calls(generated, ttl) for ttl in (0.0, 0.1, 1.0, 5.0, math.inf)]
    assert calls == sorted(calls, reverse=True)
    assert calls[0] > calls[-1]


ROWS = st.lists(
    st.tuples(
        st.integers(0, 40).map(lambda q: q / 4),  # quarter seconds: ties and exact TTL edges
        st.integers(0, 2),
        st.integers(0, 1),
        st.integers(0, 3),
    ),
    max_size=60,
)


@DETERMINISTIC
@given(rows=ROWS, ttl_s=st.integers(1, 24).map(lambda q: q / 4), shared=st.booleans())
def test_fills_agree_with_a_plain_loop_on_any_schedule(rows, ttl_s, shared):
    schedule = schedule_of(rows)
    expected = brute_force_fills(schedule, ttl_s, shared)
    got = upstream_fills(schedule, ttl_s, shared_across_tenants=shared)
    np.testing.assert_array_equal(got, expected)


@DETERMINISTIC
@given(rows=ROWS, window_s=st.sampled_from([0.25, 0.5, 1.0, 3.0]), shared=st.booleans())
def test_distinct_counts_agree_with_a_plain_loop_on_any_schedule(rows, window_s, shared):
    schedule = schedule_of(rows)
    got = distinct_requests_per_window(schedule, window_s, shared_across_tenants=shared)
    expected = brute_force_distinct(schedule, window_s, shared)
    assert {k: v for k, v in enumerate(got.tolist()) if v} == {
        k: len(keys) for k, keys in expected.items()
    }
