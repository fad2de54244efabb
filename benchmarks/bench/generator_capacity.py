"""Generator capacity: the highest rate one engine process sustains on time.

One generator process (our engine on uvloop, regular arrivals, the ``chat`` endpoint) loads
the trivial server (``trivial_server``, its own process) at rising rates, each repetition in a
fresh process (``engine_run``). A repetition passes when the schedule lag p99 is below
``LAG_P99_LIMIT_S``, the generator did not fall short of the schedule, and no request failed;
a rate passes when most of its repetitions do. Capacity is the highest passing rate below the
lowest failing one (``rate_search``). The server's own CPU per request is read from its
``/_stats`` before and after each repetition, to show that it was not the bottleneck.
"""

from __future__ import annotations

import json
import statistics
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from stack.ports import ephemeral_port
from stack.python_service import PythonService

from .common import Benchmark, BenchOptions, BenchReport, format_table, ms, say
from .engine_run import EngineLoad, EngineRun, run_in_child
from .rate_search import RateSearch, capacity, majority


NAME = "generator_capacity"
LAG_P99_LIMIT_S = 0.002
TARGET_RPS = 3000
START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class CapacityParameters:
    """How long each repetition lasts, how many there are, and how the rates are searched."""

    duration_s: float
    repetitions: int
    search: RateSearch

    @classmethod
    def for_run(cls, *, quick: bool) -> CapacityParameters:
        """10 s x 3 repetitions, bisected to 250 rps; ``quick``: 3 s x 1, to 500 rps."""
        if quick:
            return cls(3.0, 1, RateSearch(step_rps=1000, resolution_rps=500, max_rps=20_000))
        return cls(10.0, 3, RateSearch(step_rps=1000, resolution_rps=250, max_rps=20_000))


@dataclass(frozen=True)
class Repetition:
    """One engine run at one rate, and what the server spent on it."""

    rate_rps: int
    run: EngineRun
    server_requests: int
    server_cpu_s: float

    @property
    def passed(self) -> bool:
        """On time (lag p99 under the limit), no shortfall, no failed or unknown request."""
        s = self.run.summary
        return (
            s.lag_s.p99_s < LAG_P99_LIMIT_S
            and self.run.shortfall is None
            and s.failed == 0
            and s.unknown == 0
        )

    @property
    def server_cpu_us_per_request(self) -> float:
        """The trivial server's CPU per request answered, in microseconds."""
        return 1e6 * self.server_cpu_s / max(self.server_requests, 1)

    def to_dict(self) -> dict[str, Any]:
        """The figures of the JSON report."""
        s = self.run.summary
        return {
            "rate_rps": self.rate_rps,
            "passed": self.passed,
            "achieved_rate_rps": s.achieved_rate_rps,
            "lag_s": {"p50": s.lag_s.p50_s, "p99": s.lag_s.p99_s, "max": s.lag_s.max_s},
            "latency_s": {"p50": s.latency_s.p50_s, "p99": s.latency_s.p99_s},
            "ok": s.ok,
            "errors": s.errors,
            "shortfall": self.run.shortfall,
            "generator_cpu_s": self.run.cpu_s,
            "generator_cpu_us_per_request": self.run.cpu_us_per_request,
            "server_requests": self.server_requests,
            "server_cpu_s": self.server_cpu_s,
            "server_cpu_us_per_request": self.server_cpu_us_per_request,
            "loop": self.run.loop,
        }

    def row(self, index: int) -> list[str]:
        """One line of the readable table."""
        s = self.run.summary
        errors = s.failed + s.unknown
        return [
            f"{self.rate_rps:,}",
            str(index + 1),
            f"{s.achieved_rate_rps:,.0f}",
            ms(s.lag_s.p50_s),
            ms(s.lag_s.p99_s),
            ms(s.lag_s.max_s),
            ms(s.latency_s.p50_s),
            ms(s.latency_s.p99_s),
            f"{errors:,}",
            f"{self.run.cpu_us_per_request:.0f}",
            f"{self.server_cpu_us_per_request:.0f}",
            ("pass" if self.passed else "FAIL") + (" (short)" if self.run.shortfall else ""),
        ]


HEADERS = [
    "rate/s", "rep", "achieved/s", "lag p50 ms", "lag p99 ms", "lag max ms", "lat p50 ms",
    "lat p99 ms", "errors", "gen CPU µs/req", "srv CPU µs/req", "verdict",
]  # fmt: skip


def _server_stats(url: str) -> tuple[int, float]:
    """Requests answered and CPU seconds used so far by the trivial server."""
    with urllib.request.urlopen(f"{url}/_stats", timeout=5) as response:  # noqa: S310 - loopback
        stats = json.load(response)
    return int(stats["requests"]), float(stats["cpu_s"])


def _measure(url: str, rate_rps: int, duration_s: float) -> Repetition:
    requests_before, cpu_before = _server_stats(url)
    run = run_in_child(EngineLoad(url, rate_rps, duration_s, model="trivial"))
    requests_after, cpu_after = _server_stats(url)
    return Repetition(rate_rps, run, requests_after - requests_before, cpu_after - cpu_before)


def run(options: BenchOptions) -> BenchReport:
    """Search the capacity against a trivial server of our own, always stopped after."""
    parameters = CapacityParameters.for_run(quick=options.quick)
    server = PythonService(
        "trivial_server",
        "benchmarks.bench.trivial_server",
        port=ephemeral_port(),
        log_dir=options.log_dir,
    )
    server.launch()
    try:
        server.wait_ready(time.monotonic() + START_TIMEOUT_S)
        repetitions, passed = _search(server.url, parameters)
    finally:
        server.stop()
    return _report(parameters, repetitions, passed)


def _search(url: str, parameters: CapacityParameters) -> tuple[list[Repetition], dict[int, bool]]:
    passed: dict[int, bool] = {}
    repetitions: list[Repetition] = []
    while (rate := parameters.search.next_rate(passed)) is not None:
        at_rate: list[Repetition] = []
        for index in range(parameters.repetitions):
            say(
                f"{NAME}: {rate:,} requests/s for {parameters.duration_s:g} s,"
                f" repetition {index + 1}/{parameters.repetitions}"
            )
            repetition = _measure(url, rate, parameters.duration_s)
            s = repetition.run.summary
            say(
                f"{NAME}:   achieved {s.achieved_rate_rps:,.0f}/s, lag p99 {ms(s.lag_s.p99_s)} ms,"
                f" {'pass' if repetition.passed else 'FAIL'}"
            )
            at_rate.append(repetition)
        passed[rate] = majority([r.passed for r in at_rate])
        repetitions.extend(at_rate)
    return repetitions, passed


def _report(
    parameters: CapacityParameters, repetitions: list[Repetition], passed: dict[int, bool]
) -> BenchReport:
    best = capacity(passed)
    verdict = (
        f"capacity {best:,} requests/s per process (lag p99 < {LAG_P99_LIMIT_S * 1e3:g} ms):"
        f" {'meets' if best >= TARGET_RPS else 'falls short of'} the {TARGET_RPS:,}/s target"
    )
    server_cost = [r.server_cpu_us_per_request for r in repetitions if r.server_requests]
    figures = {
        "capacity_rps": best,
        "target_rps": TARGET_RPS,
        "meets_target": best >= TARGET_RPS,
        "rates": [{"rate_rps": rate, "passed": ok} for rate, ok in sorted(passed.items())],
        "repetitions": [r.to_dict() for r in repetitions],
        "server_cpu_us_per_request_median": statistics.median(server_cost) if server_cost else None,
    }
    rows = [r.row(i % parameters.repetitions) for i, r in enumerate(repetitions)]
    table = format_table(HEADERS, rows, title="Generator capacity (one process, trivial server)")
    return BenchReport(
        parameters={
            "duration_s": parameters.duration_s,
            "repetitions": parameters.repetitions,
            "ladder_step_rps": parameters.search.step_rps,
            "resolution_rps": parameters.search.resolution_rps,
            "max_rps": parameters.search.max_rps,
            "lag_p99_limit_s": LAG_P99_LIMIT_S,
            "arrivals": "regular",
            "endpoint": "chat",
            "processes": 1,
            "server": "benchmarks.bench.trivial_server (asyncio Protocol on uvloop)",
        },
        figures=figures,
        verdict=verdict,
        passed=best >= TARGET_RPS,
        tables=[table],
    )


BENCHMARK = Benchmark(
    NAME,
    "the highest rate one generator process sends on time (lag p99 < 2 ms) to a trivial server",
    run,
)
