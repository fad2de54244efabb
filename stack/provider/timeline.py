"""Provider calls over time: counts per time bucket by endpoint kind, model, tenant and status.

Bucket ``k`` holds the calls that arrived in ``[origin + k * bucket_s, origin + (k + 1) *
bucket_s)`` on the provider's clock. A call is put in the bucket of its arrival once it has
finished, under its final status, so a call still in flight is not on the timeline yet.

``origin`` is when the stats were last reset (``POST /_control/reset``). The snapshot gives it
as wall-clock time too (``origin_unix_s``), so that a reader on the same machine can line the
timeline up with its own time zero: the scenario runner resets the provider right before the
load starts, so bucket 0 begins a few milliseconds before the load's time zero, and a reader
shifts the buckets by ``origin_unix_s`` minus the load's start. Calls that arrive
``horizon_s`` or more after the origin are left off the timeline (the counters still count
them), which bounds its memory on a provider that is never reset.

Snapshot::

    {"bucket_s": 1.0, "origin_unix_s": 1718000000.25, "horizon_s": 7200.0,
     "series": [{"endpoint": "chat", "model": "gpt-4o", "tenant": "acme", "status": "200",
                 "counts": [0, 3, 5, 4]}, ...]}

Each series' ``counts`` runs from bucket 0 to its last call; a shorter series is zero after
its end. ``model`` is ``-`` for a call refused before its model was known (bad request,
unknown model), ``tenant`` is ``-`` for a call without an ``X-Tenant-Id`` header.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


BUCKET_S = 1.0
HORIZON_S = 7200.0
"""Two hours: twice the longest scenario."""


@dataclass(frozen=True, slots=True, order=True)
class SeriesKey:
    """What one series counts: calls of one endpoint kind, model, tenant and final status."""

    endpoint: str
    model: str
    tenant: str
    status: str


class Timeline:
    """Calls per time bucket since ``origin`` (on the provider's clock), per ``SeriesKey``."""

    def __init__(
        self,
        *,
        origin: float,
        origin_unix_s: float,
        bucket_s: float = BUCKET_S,
        horizon_s: float = HORIZON_S,
    ) -> None:
        self.origin = origin
        self.origin_unix_s = origin_unix_s
        self.bucket_s = bucket_s
        self.horizon_s = horizon_s
        self._series: dict[SeriesKey, list[int]] = {}

    def add(self, key: SeriesKey, arrived: float) -> None:
        """Count a finished call that arrived at ``arrived`` (the provider's clock)."""
        offset = arrived - self.origin
        if offset >= self.horizon_s:
            return
        bucket = int(offset // self.bucket_s)
        counts = self._series.setdefault(key, [])
        if len(counts) <= bucket:
            counts.extend([0] * (bucket + 1 - len(counts)))
        counts[bucket] += 1

    def snapshot(self) -> dict[str, object]:
        """A JSON-ready copy (see the module docstring)."""
        return {
            "bucket_s": self.bucket_s,
            "origin_unix_s": self.origin_unix_s,
            "horizon_s": self.horizon_s,
            "series": [
                {**asdict(key), "counts": list(counts)}
                for key, counts in sorted(self._series.items())
            ],
        }
