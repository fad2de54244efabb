"""The schedule: column checks, slicing between generator processes, its rate."""

import math

import numpy as np
import pytest

from benchmarks.arrivals import Arrivals, Constant
from benchmarks.schedule import Schedule
from benchmarks.workload import FanOut, TenantShare, Workload


COLUMNS = ("intended_s", "tenant", "endpoint", "prompt", "click", "part", "row")


def schedule_of(intended_s, *, duration_s=None, **columns):
    n = len(intended_s)
    values = {
        "intended_s": np.asarray(intended_s, dtype=np.float64),
        "tenant": np.zeros(n, dtype=np.uint16),
        "endpoint": np.zeros(n, dtype=np.uint8),
        "prompt": np.arange(n, dtype=np.int32),
        "click": np.arange(n, dtype=np.int32),
        "part": np.zeros(n, dtype=np.uint8),
        "row": np.arange(n, dtype=np.int64),
    }
    values.update(columns)
    return Schedule(**values, tenants=("a",), endpoints=("chat",), duration_s=duration_s)


def test_length_is_the_number_of_rows():
    assert len(schedule_of([0.0, 0.5, 1.0])) == 3
    assert len(schedule_of([])) == 0


@pytest.mark.parametrize(
    ("columns", "match"),
    [
        ({"tenant": np.zeros(2, dtype=np.uint16)}, "tenant has 2"),
        ({"row": np.arange(4, dtype=np.int64)}, "row has 4"),
        ({"prompt": np.zeros(3, dtype=np.int64)}, "prompt must have dtype int32"),
        ({"part": np.zeros((3, 1), dtype=np.uint8)}, "part must be a 1-d numpy array"),
        ({"click": [0, 1, 2]}, "click must be a 1-d numpy array"),
        ({"tenant": np.array([0, 1, 0], dtype=np.uint16)}, "tenant indices must be < len"),
        ({"endpoint": np.array([0, 0, 3], dtype=np.uint8)}, "endpoint indices must be < len"),
    ],
)
def test_bad_columns_are_refused(columns, match):
    with pytest.raises(ValueError, match=match):
        schedule_of([0.0, 0.5, 1.0], **columns)


def test_unsorted_times_are_refused():
    with pytest.raises(ValueError, match="sorted ascending"):
        schedule_of([0.0, 1.0, 0.5])


@pytest.mark.parametrize("duration_s", [-1.0, math.inf, math.nan])
def test_bad_durations_are_refused(duration_s):
    with pytest.raises(ValueError, match="duration_s"):
        schedule_of([0.0], duration_s=duration_s)


@pytest.fixture(scope="module")
def full():
    workload = Workload(
        Arrivals(Constant(400.0), "regular"),
        tenants=(TenantShare("a", 1.0), TenantShare("b", 2.0)),
        fanout=FanOut(1, 5),
        seed=3,
    )
    return workload.schedule(5.0)


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_slices_partition_the_schedule(full, count):
    slices = [full.slice_for(index, count) for index in range(count)]
    rows = np.sort(np.concatenate([part.row for part in slices]))
    np.testing.assert_array_equal(rows, np.arange(len(full)))
    sizes = [len(part) for part in slices]
    assert max(sizes) - min(sizes) <= 1
    for index, part in enumerate(slices):
        assert np.all(part.row % count == index)
        for name in COLUMNS:
            np.testing.assert_array_equal(getattr(part, name), getattr(full, name)[part.row])
        assert part.tenants == full.tenants
        assert part.endpoints == full.endpoints
        assert part.duration_s == full.duration_s


def test_a_slice_of_a_slice_keeps_the_original_rows(full):
    twice = full.slice_for(1, 2).slice_for(0, 3)
    np.testing.assert_array_equal(twice.row, np.arange(3, len(full), 6))


@pytest.mark.parametrize(
    ("index", "count", "match"),
    [(0, 0, "count must be >= 1"), (-1, 2, r"index must be in \[0, 2\)"), (2, 2, "index")],
)
def test_bad_slices_are_refused(full, index, count, match):
    with pytest.raises(ValueError, match=match):
        full.slice_for(index, count)


def test_the_rate_of_a_workload_schedule_matches_its_arrivals(full):
    clicks = int(full.click[-1]) + 1
    assert clicks == 2000
    assert len(full) / 5.0 == pytest.approx(400.0 * 3, rel=0.05)


def test_the_fingerprint_tells_schedules_apart():
    a = schedule_of([0.0, 1.0, 2.0])
    assert a.fingerprint() == schedule_of([0.0, 1.0, 2.0]).fingerprint()
    assert a.fingerprint() != schedule_of([0.0, 1.0, 2.5]).fingerprint()
    assert a.slice_for(0, 2).fingerprint() != a.slice_for(1, 2).fingerprint()
