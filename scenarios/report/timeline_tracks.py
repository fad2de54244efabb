"""The report's ``timeline`` as tracks: counts per bucket on the load's time axis.

Read from the ``Report`` alone: one track per provider series (endpoint kind, model,
status) and one per client signal (429 answers, degraded answers). A bucket sits at its middle,
``start_s + (k + 0.5) * bucket_s`` seconds from the load's time zero; it is inside a fault
window when its middle is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .record import CallSeries, Report


Intervals = Sequence[tuple[float, float]]
SPARKS = "▂▃▄▅▆▇█"
EMPTY_SPARK = "·"


@dataclass(frozen=True)
class Track:
    """Counts per bucket of one series; ``group`` is its model (provider) or ``clients``."""

    name: str
    group: str
    status: str
    start_s: float
    bucket_s: float
    counts: tuple[int, ...]

    def peak(self) -> tuple[int, float]:
        """The most calls in one bucket, and when that bucket began (the first such)."""
        top = max(self.counts, default=0)
        k = self.counts.index(top) if self.counts else 0
        return top, max(self.start_s + k * self.bucket_s, 0.0)

    def buckets(self, horizon_s: float) -> list[tuple[float, int]]:
        """Each bucket whose middle lies in ``[0, horizon_s)``: its middle and its count,
        zero after the series' last bucket."""
        found = []
        for k in range(math.ceil((horizon_s - self.start_s) / self.bucket_s)):
            middle = self.start_s + (k + 0.5) * self.bucket_s
            if 0 <= middle < horizon_s:
                found.append((middle, self.counts[k] if k < len(self.counts) else 0))
        return found

    def per_s(self, intervals: Intervals, horizon_s: float, *, inside: bool) -> float | None:
        """Mean calls per second over the buckets of ``[0, horizon_s)`` inside ``intervals``
        (or outside them); None when there is no such bucket."""
        chosen = [
            value
            for middle, value in self.buckets(horizon_s)
            if any(a <= middle < b for a, b in intervals) == inside
        ]
        return sum(chosen) / (len(chosen) * self.bucket_s) if chosen else None

    def sparkline(self, horizon_s: float, width: int) -> str:
        """The counts over ``[0, horizon_s)`` in ``width`` characters, scaled to their peak."""
        columns = [0] * width
        for middle, value in self.buckets(horizon_s):
            columns[min(int(middle / horizon_s * width), width - 1)] += value
        top = max(columns)
        return "".join(
            SPARKS[math.ceil(v / top * len(SPARKS)) - 1] if v else EMPTY_SPARK for v in columns
        )


def provider_tracks(report: Report) -> list[Track] | None:
    """A track per provider series; None when the run has no provider timeline."""
    provider = report.timeline.provider
    if provider is None:
        return None
    return [
        Track(
            name=series_name(series),
            group=series.model,
            status=series.status,
            start_s=float(provider.start_s),
            bucket_s=float(provider.bucket_s),
            counts=series.counts,
        )
        for series in provider.series
    ]


def model_tracks(report: Report) -> list[Track] | None:
    """A track per model: its provider calls per bucket whatever their status, so that a
    model flag flipped on the timeline shows as calls moving from one model to another;
    None when the run has no provider timeline."""
    tracks = provider_tracks(report)
    if tracks is None:
        return None
    sums: dict[str, list[int]] = {}
    for track in tracks:
        if track.group == "-":
            continue  # refused before its model was known
        total = sums.setdefault(track.group, [])
        total.extend([0] * (len(track.counts) - len(total)))
        for k, value in enumerate(track.counts):
            total[k] += value
    first = tracks[0] if tracks else None
    return [
        Track(
            name=model,
            group=model,
            status="all",
            start_s=first.start_s if first else 0.0,
            bucket_s=first.bucket_s if first else 1.0,
            counts=tuple(counts),
        )
        for model, counts in sums.items()
    ]


def series_name(series: CallSeries) -> str:
    """``gpt-4o 200``; ``chat (no model) 400`` for calls refused before their model was known."""
    named = series.model if series.model != "-" else f"{series.endpoint} (no model)"
    return f"{named} {series.status}"


def client_tracks(report: Report) -> list[Track]:
    """429 answers and (when the target flags them) degraded answers per second."""
    clients = report.timeline.clients
    if clients is None:
        return []
    signals = (
        ("429 answers", clients.rate_limited, "429"),
        ("degraded answers", clients.degraded, "200"),
    )
    return [
        Track(
            name=name,
            group="clients",
            status=status,
            start_s=float(clients.start_s),
            bucket_s=float(clients.bucket_s),
            counts=counts,
        )
        for name, counts, status in signals
        if counts is not None
    ]


def degraded_unreported(report: Report) -> bool:
    """Whether the target flags no degraded answers (so the clients have no such track)."""
    clients = report.timeline.clients
    return clients is not None and clients.degraded is None


def horizon_s(report: Report) -> float:
    """The time axis's end, shared by every track: the load's duration, or the end of the last
    bucket of any track if later."""
    tracks = [*(provider_tracks(report) or ()), *client_tracks(report)]
    duration_s = float(report.run.duration_s or 0.0)
    last_end_s = max((t.start_s + len(t.counts) * t.bucket_s for t in tracks), default=0.0)
    return max(duration_s, last_end_s, 1.0)


def fault_intervals(report: Report, horizon: float) -> list[tuple[float, float]]:
    """Each fault's window in seconds; a fault never healed lasts to ``horizon``."""
    return [(fault.started_s, fault.end_or(horizon)) for fault in report.faults]
