"""What a perfect cache could reach on a schedule, computed before the run.

A cache key is (tenant, endpoint, prompt). Gateways salt their cache keys per tenant,
so by default tenants share nothing; ``shared_across_tenants`` drops the tenant.

The perfect cache has a TTL and also coalesces identical requests in flight: a key
costs one upstream call when first requested, and again at each request made at or
after ``fill + ttl_s``, where ``fill`` is the time of the key's last upstream call.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from .schedule import Schedule


def cache_keys(schedule: Schedule, *, shared_across_tenants: bool = False) -> npt.NDArray[np.int64]:
    """One int64 per request, equal exactly when the requests share a cache entry."""
    key = schedule.endpoint.astype(np.int64) << 32 | schedule.prompt.astype(np.int64)
    if not shared_across_tenants:
        key |= schedule.tenant.astype(np.int64) << 40
    return key


def distinct_requests_per_window(
    schedule: Schedule, window_s: float, *, shared_across_tenants: bool = False
) -> npt.NDArray[np.int64]:
    """The number of distinct cache keys in each window [k·window_s, (k+1)·window_s).

    The windows cover ``schedule.duration_s`` when it is known, else up to the last request.
    """
    if not (math.isfinite(window_s) and window_s > 0):
        raise ValueError(f"window_s must be finite and > 0, got {window_s!r}")
    window = np.floor(schedule.intended_s / window_s).astype(np.int64)
    windows = int(window[-1]) + 1 if len(schedule) else 0
    if schedule.duration_s is not None:
        windows = max(windows, math.ceil(schedule.duration_s / window_s))
    key = cache_keys(schedule, shared_across_tenants=shared_across_tenants)
    order = np.argsort(key, kind="stable")
    key, window = key[order], window[order]
    new = np.ones(len(key), dtype=np.bool_)
    new[1:] = (key[1:] != key[:-1]) | (window[1:] != window[:-1])
    return np.bincount(window[new], minlength=windows).astype(np.int64)


def upstream_fills(
    schedule: Schedule, ttl_s: float, *, shared_across_tenants: bool = False
) -> npt.NDArray[np.bool_]:
    """Which requests (in schedule order) a perfect cache with ``ttl_s`` sends upstream.

    ``ttl_s`` may be inf (each key is fetched once) or 0 (nothing is cached).
    """
    if not ttl_s >= 0:
        raise ValueError(f"ttl_s must be >= 0 (inf allowed), got {ttl_s!r}")
    n = len(schedule)
    if ttl_s == 0:
        return np.ones(n, dtype=np.bool_)
    key = cache_keys(schedule, shared_across_tenants=shared_across_tenants)
    # Rows sorted by key, and by time within a key, since the schedule is sorted by time.
    order = np.argsort(key, kind="stable")
    key = key[order]
    new_key = np.ones(n, dtype=np.bool_)
    new_key[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(new_key)
    fills = np.zeros(n, dtype=np.bool_)
    if math.isinf(ttl_s):
        fills[order[starts]] = True
        return fills

    # Exact integer ranks of the times, so that "t >= fill + ttl" needs no float tricks.
    t = schedule.intended_s
    new_time = np.ones(n, dtype=np.bool_)
    new_time[1:] = t[1:] != t[:-1]
    levels = t[new_time]
    rank = (np.cumsum(new_time) - 1)[order]
    due = np.searchsorted(levels, t + ttl_s, side="left")[order]
    group = np.cumsum(new_key) - 1
    stride = len(levels) + 1
    position = group * stride + rank
    # The request that the refill after a fill at j goes to: the key's first one that is due.
    refill = np.searchsorted(position, group * stride + due, side="left")
    refill = np.maximum(refill, np.arange(1, n + 1))
    end = np.append(starts[1:], n)[group]

    # One step per fill of the most refilled key; every key advances at once.
    filled = np.zeros(n, dtype=np.bool_)
    frontier = starts
    while frontier.size:
        filled[frontier] = True
        following = refill[frontier]
        frontier = following[following < end[frontier]]
    fills[order] = filled
    return fills


def min_upstream_calls(
    schedule: Schedule, ttl_s: float, *, shared_across_tenants: bool = False
) -> int:
    """The fewest upstream calls a cache with ``ttl_s`` that coalesces in flight can make."""
    return int(upstream_fills(schedule, ttl_s, shared_across_tenants=shared_across_tenants).sum())
