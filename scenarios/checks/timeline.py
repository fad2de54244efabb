"""The provider's timeline of calls, read from a stored run and lined up with the load's time.

The simulated provider counts its calls per time bucket since its last reset, by endpoint kind,
model, tenant and final status (``stack.provider.timeline``); the runner resets it right before
the load. The timeline records that reset in wall-clock time (``origin_unix_s``), so bucket
``k`` covers ``start_s + k * bucket_s`` to ``start_s + (k + 1) * bucket_s`` seconds from the
load's time zero, ``start_s`` being the reset's time minus the load's start (a little before
zero). A call sits in the bucket in which it reached the provider; a bucket belongs to a window
when its middle does, so sums over a window are exact to within a bucket at its edges.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from scenarios.stored_run import StoredRun

from .selection import in_intervals


Counts = npt.NDArray[np.int64]
NO_TENANT = "-"
"""The tenant the provider counts a call without an ``X-Tenant-Id`` header as."""


@dataclass(frozen=True, eq=False)
class Series:
    """Provider calls of one endpoint kind, model, tenant and status, per bucket from 0."""

    endpoint: str
    model: str
    tenant: str
    status: str
    counts: Counts


@dataclass(frozen=True, eq=False)
class ProviderTimeline:
    """The provider's calls per bucket, bucket 0 starting ``start_s`` from the load's zero."""

    bucket_s: float
    start_s: float
    series: tuple[Series, ...]

    @property
    def buckets(self) -> int:
        """How many buckets the longest series spans."""
        return max((len(s.counts) for s in self.series), default=0)

    @property
    def tenants(self) -> frozenset[str]:
        """Every tenant the provider saw a call of (``-``: calls without the header)."""
        return frozenset(s.tenant for s in self.series)

    def middles_s(self) -> npt.NDArray[np.float64]:
        """The middle of each bucket, in seconds from the load's time zero."""
        offsets = np.arange(self.buckets, dtype=np.float64) + 0.5
        return self.start_s + offsets * self.bucket_s

    def calls(
        self,
        *,
        endpoint: str | None = None,
        status: str | None = None,
        tenant: str | None = None,
        intervals: Sequence[tuple[float, float]] | None = None,
    ) -> int:
        """Calls of ``endpoint``, ``status`` and ``tenant`` (each: all when None) in the buckets
        whose middle falls in one of ``intervals`` (all buckets when None)."""
        middles = self.middles_s()
        inside = (
            np.ones(len(middles), np.bool_)
            if intervals is None
            else in_intervals(middles, intervals)
        )
        return sum(
            int(s.counts[inside[: len(s.counts)]].sum())
            for s in self.series
            if (endpoint is None or s.endpoint == endpoint)
            and (status is None or s.status == status)
            and (tenant is None or s.tenant == tenant)
        )


def provider_timeline(run: StoredRun) -> ProviderTimeline | None:
    """The run's provider timeline; None without provider ground truth or a timeline in it."""
    timeline: Mapping[str, Any] | None = (run.provider or {}).get("timeline")
    if timeline is None:
        return None
    series = tuple(
        Series(
            endpoint=str(s["endpoint"]),
            model=str(s["model"]),
            tenant=str(s["tenant"]),
            status=str(s["status"]),
            counts=np.asarray(s["counts"], dtype=np.int64),
        )
        for s in timeline.get("series") or ()
    )
    return ProviderTimeline(
        bucket_s=float(timeline["bucket_s"]),
        start_s=float(timeline["origin_unix_s"]) - run.history.started_at,
        series=series,
    )
