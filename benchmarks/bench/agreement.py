"""Two load generators compared on the same runs: per-run figures and agreement per rate.

``Pair`` is one repetition at one rate (our engine's run and vegeta's report, and how many
requests the provider saw from each); ``Agreement`` is the medians over a rate's pairs of each
tool's p50 and p99 (ours from the intended send time) and their relative differences.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from .common import ms
from .engine_run import EngineRun
from .vegeta import VegetaReport


TOLERANCE = 0.05
"""The tools agree when p50 and p99 each differ by at most this share of vegeta's."""


@dataclass(frozen=True)
class Pair:
    """One repetition at one rate: both tools' runs, and the provider's count of each."""

    rate_rps: int
    repetition: int
    first: str
    ours: EngineRun
    vegeta: VegetaReport
    provider_requests: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """The figures of the JSON report."""
        s = self.ours.summary
        return {
            "rate_rps": self.rate_rps,
            "repetition": self.repetition,
            "first": self.first,
            "meltproof": {
                "achieved_rate_rps": s.achieved_rate_rps,
                "p50_s": s.latency_s.p50_s,
                "p90_s": s.latency_s.p90_s,
                "p99_s": s.latency_s.p99_s,
                "max_s": s.latency_s.max_s,
                "mean_s": s.latency_s.mean_s,
                "uncorrected_p50_s": s.uncorrected_latency_s.p50_s,
                "uncorrected_p99_s": s.uncorrected_latency_s.p99_s,
                "lag_p99_s": s.lag_s.p99_s,
                "requests": s.scheduled,
                "errors": s.failed + s.unknown,
                "error_kinds": s.errors,
                "shortfall": self.ours.shortfall,
            },
            "vegeta": {
                "achieved_rate_rps": self.vegeta.rate_rps,
                "throughput_rps": self.vegeta.throughput_rps,
                "p50_s": self.vegeta.p50_s,
                "p90_s": self.vegeta.p90_s,
                "p99_s": self.vegeta.p99_s,
                "max_s": self.vegeta.max_s,
                "mean_s": self.vegeta.mean_s,
                "requests": self.vegeta.requests,
                "errors": self.vegeta.failed,
                "status_codes": dict(self.vegeta.status_codes),
                "error_messages": list(self.vegeta.errors),
            },
            "provider_requests": self.provider_requests,
        }

    def rows(self) -> list[list[str]]:
        """Two lines of the runs table: ours, then vegeta's."""
        s, v = self.ours.summary, self.vegeta
        ours = (s.achieved_rate_rps, s.latency_s.p50_s, s.latency_s.p99_s, s.failed + s.unknown)
        figures = {"meltproof": ours, "vegeta": (v.rate_rps, v.p50_s, v.p99_s, v.failed)}
        return [
            [str(self.rate_rps), str(self.repetition + 1), tool, "*" * (tool == self.first),
             f"{rate:.1f}", ms(p50), ms(p99), str(errors), str(self.provider_requests[tool])]
            for tool, (rate, p50, p99, errors) in figures.items()
        ]  # fmt: skip


@dataclass(frozen=True)
class Agreement:
    """Both tools at one rate: medians over repetitions and their relative differences."""

    rate_rps: int
    ours_p50_s: float
    vegeta_p50_s: float
    ours_p99_s: float
    vegeta_p99_s: float

    @classmethod
    def of(cls, rate_rps: int, pairs: list[Pair]) -> Agreement:
        """From the pairs measured at ``rate_rps``."""
        median = statistics.median
        return cls(
            rate_rps,
            median([p.ours.summary.latency_s.p50_s for p in pairs]),
            median([p.vegeta.p50_s for p in pairs]),
            median([p.ours.summary.latency_s.p99_s for p in pairs]),
            median([p.vegeta.p99_s for p in pairs]),
        )

    @property
    def p50_difference(self) -> float:
        """(ours - vegeta) / vegeta, of the p50."""
        return (self.ours_p50_s - self.vegeta_p50_s) / self.vegeta_p50_s

    @property
    def p99_difference(self) -> float:
        """(ours - vegeta) / vegeta, of the p99."""
        return (self.ours_p99_s - self.vegeta_p99_s) / self.vegeta_p99_s

    @property
    def agrees(self) -> bool:
        """Both differences within ``TOLERANCE``."""
        return abs(self.p50_difference) <= TOLERANCE and abs(self.p99_difference) <= TOLERANCE

    def to_dict(self) -> dict[str, Any]:
        """The figures of the JSON report."""
        return {
            "rate_rps": self.rate_rps,
            "meltproof_p50_s": self.ours_p50_s,
            "vegeta_p50_s": self.vegeta_p50_s,
            "p50_difference": self.p50_difference,
            "meltproof_p99_s": self.ours_p99_s,
            "vegeta_p99_s": self.vegeta_p99_s,
            "p99_difference": self.p99_difference,
            "agrees": self.agrees,
        }

    def row(self) -> list[str]:
        """One line of the comparison table."""
        return [
            f"{self.rate_rps}", ms(self.ours_p50_s), ms(self.vegeta_p50_s),
            f"{self.p50_difference:+.1%}", ms(self.ours_p99_s), ms(self.vegeta_p99_s),
            f"{self.p99_difference:+.1%}", "agree" if self.agrees else "DISAGREE",
        ]  # fmt: skip
