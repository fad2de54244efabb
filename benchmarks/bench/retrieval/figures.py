"""The retrieval benchmark's figures: rows of search, OLTP and drain measurements, and checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reference_impl.retrieval import SearchSettings
from reference_impl.retrieval.bench_search import K, SearchPass
from stack.corpus import CorpusSummary

from ...percentile import nearest_rank_or_none
from ..checks import Check
from ..common import ms
from .parameters import OLTP_P99_FACTOR, RECALL_TARGET, SEARCH_P99_LIMIT_S


def recall_at_k(found: Sequence[int], exact: Sequence[int]) -> float:
    """The share of the exact results (ids) that ``found`` has; 1.0 when there are none."""
    if not exact:
        return 1.0
    return len(set(found) & set(exact)) / len(set(exact))


def drain_rate(samples: Sequence[tuple[float, int]]) -> float | None:
    """Jobs per second from ``(time_s, depth)`` polls: from the first poll that shows progress
    to the first that shows an empty queue. None if the queue never emptied or no interval
    separates the two."""
    if not samples:
        return None
    initial = samples[0][1]
    started = next(((t, d) for t, d in samples if d < initial), None)
    emptied = next((t for t, d in samples if d == 0), None)
    if started is None or emptied is None or emptied <= started[0]:
        return None
    return started[1] / (emptied - started[0])


@dataclass(frozen=True)
class SearchRow:
    """One search setting over every query: its plan, recall@k and latency."""

    setting: str
    ef_search: int | None
    """None for the exact search."""
    uses_index: bool
    queries: int
    recall_mean: float
    recall_min: float
    p50_s: float
    p99_s: float

    def meets_target(self) -> bool:
        """Recall@k at least ``RECALL_TARGET`` with p99 at most ``SEARCH_P99_LIMIT_S``."""
        return self.recall_mean >= RECALL_TARGET and self.p99_s <= SEARCH_P99_LIMIT_S


def best_setting(rows: Sequence[SearchRow]) -> SearchRow | None:
    """The index setting meeting the target with the highest recall (then the lowest p99)."""
    meeting = [row for row in rows if row.ef_search is not None and row.meets_target()]
    return max(meeting, key=lambda row: (row.recall_mean, -row.p99_s), default=None)


def search_row(
    settings: SearchSettings,
    *,
    found: Sequence[Sequence[int]],
    exact: Sequence[Sequence[int]],
    latencies_s: Sequence[float],
    uses_index: bool,
) -> SearchRow:
    """The row of one setting from the ids it found per query, the exact ids and latencies."""
    recalls = [recall_at_k(f, e) for f, e in zip(found, exact, strict=True)]
    p50_s, p99_s = nearest_rank_or_none(latencies_s, 50), nearest_rank_or_none(latencies_s, 99)
    if p50_s is None or p99_s is None:
        raise ValueError("no search latency measured")
    return SearchRow(
        setting="exact" if settings.exact else f"ef_search {settings.ef_search}",
        ef_search=None if settings.exact else settings.ef_search,
        uses_index=uses_index,
        queries=len(found),
        recall_mean=sum(recalls) / len(recalls),
        recall_min=min(recalls),
        p50_s=p50_s,
        p99_s=p99_s,
    )


def search_rows(passes: Sequence[SearchPass]) -> list[SearchRow]:
    """A row per pass, the first pass (the exact search) giving every row's ground truth."""
    exact = passes[0].found
    return [
        search_row(
            p.settings,
            found=p.found,
            exact=exact,
            latencies_s=p.latencies_s,
            uses_index=p.uses_index,
        )
        for p in passes
    ]


@dataclass(frozen=True)
class OltpRow:
    """The OLTP reads of one scenario, and the vector load that ran beside them."""

    scenario: str
    shared_pool: bool
    vector_workers: int
    searches_elsewhere: bool
    reads: int
    errors: int
    p50_s: float
    p99_s: float
    searches: int
    search_errors: int
    loop_lag_p99_s: float | None


@dataclass(frozen=True)
class Drain:
    """One drain of the queue by ``workers`` concurrent workers."""

    workers: int
    jobs: int
    seconds: float
    jobs_per_s: float | None
    left_unembedded: int


@dataclass(frozen=True)
class Outcome:
    """Everything one run measured."""

    corpus: CorpusSummary
    server: Mapping[str, str]
    search: Sequence[SearchRow]
    oltp: Sequence[OltpRow]
    drains: Sequence[Drain]


def search_check(rows: Sequence[SearchRow]) -> Check:
    """Target 1: some ``ef_search`` reaches the recall within the p99 limit."""
    name = f"recall@{K} >= {RECALL_TARGET:g} at p99 <= {ms(SEARCH_P99_LIMIT_S)} ms"
    best = best_setting(rows)
    if best is None:
        return Check(name, False, "no ef_search meets both")
    detail = f"ef_search {best.ef_search}: recall {best.recall_mean:.3f}, p99 {ms(best.p99_s)} ms"
    return Check(name, True, detail)


def oltp_check(rows: Sequence[OltpRow]) -> Check:
    """Target 2: with split pools, the OLTP p99 stays within the factor of its unloaded p99."""
    name = f"split pools: OLTP p99 <= {OLTP_P99_FACTOR:g} x unloaded"
    alone = next((r for r in rows if r.vector_workers == 0), None)
    split = next(
        (r for r in rows if r.vector_workers and not (r.shared_pool or r.searches_elsewhere)), None
    )
    if alone is None or split is None:
        return Check(name, None, "not measured")
    ratio = split.p99_s / alone.p99_s
    detail = f"{ms(split.p99_s)} ms vs {ms(alone.p99_s)} ms ({ratio:.2f}x)"
    return Check(name, split.errors == 0 and ratio <= OLTP_P99_FACTOR, detail)
