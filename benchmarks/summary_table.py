"""A run's summary as ``meltproof load`` prints it: counts, error kinds, latency percentiles."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

from .summary import Summary


def print_summary(console: Console, summary: Summary) -> None:
    """Print ``summary`` on ``console``: rates, outcomes, errors by kind, a percentile table."""
    console.print(
        f"[bold]{summary.scheduled:,} requests[/] in {summary.duration_s:g} s: achieved "
        f"{summary.achieved_rate_rps:,.1f} req/s of {summary.target_rate_rps:,.1f} scheduled"
    )
    console.print(
        f"ok {summary.ok:,} · failed {summary.failed:,} · unknown outcome {summary.unknown:,}"
        + (f" · never finished {summary.pending:,}" if summary.pending else "")
        + f" · error rate {summary.error_rate:.2%}"
    )
    if summary.errors:
        kinds = ", ".join(f"{kind}: {count:,}" for kind, count in summary.errors.items())
        console.print(f"errors by kind: {kinds}")
    table = Table("", "p50", "p95", "p99", "max", box=None, padding=(0, 2))
    rows = [
        ("latency", summary.latency_s),
        ("uncorrected", summary.uncorrected_latency_s),
        ("schedule lag", summary.lag_s),
    ]
    if summary.ttft_s.count:
        rows += [("TTFT", summary.ttft_s), ("TPOT", summary.tpot_s), ("ITL", summary.itl_s)]
    for label, p in rows:
        table.add_row(label, _ms(p.p50_s), _ms(p.p95_s), _ms(p.p99_s), _ms(p.max_s))
    console.print(table)


def _ms(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):  # nothing recorded yet
        return "—"
    return f"{seconds * 1e3:,.1f} ms"
