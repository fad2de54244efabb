"""The headline figures' cache hit rate: the provider's ground truth first, for any target."""

import math

from op_support import answered, table_of
from run_support import stored_run
from timeline_support import series, with_timeline

from benchmarks.op import CacheStatus
from scenarios.run_figures import RunFigures


def answers(count: int, **fields):  # type: ignore[no-untyped-def]
    return [answered(float(i), 0.1, **fields) for i in range(count)]


def test_the_hit_rate_comes_from_ground_truth_whatever_the_header_says() -> None:
    rows = answers(10, cache=CacheStatus.MISS)  # a header that says every answer missed
    run = stored_run(table_of(rows), provider=with_timeline(series([3])))
    assert RunFigures.of(run).cache_hit_rate == 0.7


def test_without_ground_truth_the_header_gives_it_and_without_either_it_is_unknown() -> None:
    rows = answers(4, cache=CacheStatus.HIT) + answers(6, cache=CacheStatus.MISS)
    assert RunFigures.of(stored_run(table_of(rows), provider=None)).cache_hit_rate == 0.4
    bare = stored_run(table_of(answers(10)), provider=None)
    assert math.isnan(RunFigures.of(bare).cache_hit_rate)
