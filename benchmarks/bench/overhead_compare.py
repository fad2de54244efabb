"""Two ``gateway_overhead`` reports side by side: capacities and CPU per request, before and after.

``python -m benchmarks.bench.overhead_compare BEFORE.json AFTER.json`` prints the table;
``python -m benchmarks.bench.overhead_compare BEFORE.json --run DIR [--quick]`` first runs the
benchmark (``python -m benchmarks.bench gateway_overhead --out DIR``, with this interpreter and
environment) and compares with the report it writes. Each report's load average before and
after its run is shown next to its figures: CPU per request is the figure to compare on a
shared machine, latency and capacity are more sensitive to other load.

Per target and rate: the target's CPU per request before and after, its ratio to the bare
pass-through's at the same rate, and, where the report has them (the newer ones), the CPU per
request of every process: the generator, the provider, Redis. Then, for reports with
alternated rounds, the miss's and the hit's median multiple of the pass-through's CPU per
request over the rounds: the figure the checks use, and the one to compare across runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .common import format_table
from .gateway_overhead.parameters import NAME
from .gateway_overhead.steps import PROCESSES


Report = Mapping[str, Any]
MARKS = {True: "pass", False: "FAIL", None: "n/a"}
HEADERS = [
    "target", "rate/s", "CPU µs/req before", "after", "Δ", "x pass-through before", "after",
    "after, µs/req gen/prov/redis", "step before", "after",
]  # fmt: skip


def load_report(path: Path) -> Report:
    """A ``gateway_overhead`` JSON report."""
    report: Report = json.loads(path.read_text())
    if report.get("benchmark") != NAME:
        raise ValueError(f"{path} is not a {NAME} report")
    return report


def _steps(report: Report, target: str) -> dict[int, Mapping[str, Any]]:
    outcome = report["figures"]["targets"].get(target) or {}
    return {step["rate_rps"]: step for step in outcome.get("steps", [])}


def cpu_us(step: Mapping[str, Any] | None, process: str = "target") -> float | None:
    """CPU microseconds per answered request of ``process`` in a step of a report."""
    if step is None:
        return None
    answered = max(step["requests"] - step["errors"], 1)
    if process == "target":
        cpu_s = step["cpu_s"]
    else:
        cpu_s = (step.get("processes_cpu_s") or {}).get(process)
        if cpu_s is None and process == "redis":
            cpu_s = step.get("redis_cpu_s")
    return None if cpu_s is None else 1e6 * cpu_s / answered


def _number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _ratio(report: Report, target: str, rate: int) -> float | None:
    mine = cpu_us(_steps(report, target).get(rate))
    floor = cpu_us(_steps(report, "passthrough").get(rate))
    return None if mine is None or not floor else mine / floor


def _verdict(step: Mapping[str, Any] | None) -> str:
    return "-" if step is None else ("pass" if step["passed"] else "FAIL")


def rows(before: Report, after: Report) -> list[list[str]]:
    """One row per target and rate measured in either report."""
    targets = list(dict.fromkeys([*after["figures"]["targets"], *before["figures"]["targets"]]))
    table = []
    for target in targets:
        old, new = _steps(before, target), _steps(after, target)
        for rate in sorted({*old, *new}):
            was, now = cpu_us(old.get(rate)), cpu_us(new.get(rate))
            others = [cpu_us(new.get(rate), process) for process in PROCESSES[:-1]]
            table.append(
                [
                    target,
                    f"{rate:,}",
                    _number(was),
                    _number(now),
                    "-" if was is None or now is None else f"{(now - was) / was:+.0%}",
                    _number(_ratio(before, target, rate), 2),
                    _number(_ratio(after, target, rate), 2),
                    "/".join(_number(value) for value in others),
                    _verdict(old.get(rate)),
                    _verdict(new.get(rate)),
                ]
            )
    return table


def round_medians(before: Report, after: Report) -> list[list[str]]:
    """The miss's and the hit's median multiple of the pass-through's CPU per request over
    each report's alternated rounds, at each rate (``-`` for a report without rounds)."""
    found = {
        label: _round_ratios(report) for label, report in (("before", before), ("after", after))
    }
    rates = sorted({rate for ratios in found.values() for rate, _ in ratios})
    return [
        [
            target,
            f"{rate:,}",
            *(_median_cell(ratios.get((rate, target))) for ratios in found.values()),
        ]
        for target in ("gateway_miss", "gateway_hit")
        for rate in rates
    ]


def _round_ratios(report: Report) -> dict[tuple[int, str], Mapping[str, Any]]:
    """A report's rounds ratios by rate and target (none in a report from before them)."""
    ratios = report["figures"].get("cpu_rounds", {}).get("ratios", {})
    return {
        (entry["rate_rps"], target): entry
        for target, by_rate in ratios.items()
        for entry in by_rate
    }


def _median_cell(entry: Mapping[str, Any] | None) -> str:
    if entry is None:
        return "-"
    each = ", ".join(f"{ratio:.2f}" for ratio in entry["ratios"])
    return f"{entry['median']:.2f} ({each})"


def _load(report: Report) -> str:
    load = report.get("load_average") or {}
    return ", ".join(
        f"{moment} {' '.join(f'{x:.2f}' for x in load[moment])}"
        for moment in ("before", "after")
        if moment in load
    )


def capacities(before: Report, after: Report) -> list[list[str]]:
    """Each target's capacity before and after."""
    names = list(dict.fromkeys([*after["figures"]["targets"], *before["figures"]["targets"]]))

    def capacity(report: Report, name: str) -> str:
        outcome = report["figures"]["targets"].get(name)
        return "-" if outcome is None else _number(outcome["capacity_rps"])

    return [[name, capacity(before, name), capacity(after, name)] for name in names]


def compare(before: Report, after: Report) -> str:
    """The before/after tables and both runs' checks."""
    parts = [
        f"before: {before.get('verdict', '')}\n  load average {_load(before)}",
        f"after:  {after.get('verdict', '')}\n  load average {_load(after)}",
        format_table(["target", "capacity/s before", "after"], capacities(before, after),
                     title="Capacities"),
        format_table(HEADERS, rows(before, after), title="CPU per request (the target's, "
                     "and, after, the generator's, the provider's and Redis's)"),
        format_table(["target", "rate/s", "x pass-through before", "after"],
                     round_medians(before, after),
                     title="CPU per request in the alternated rounds: the median multiple of the"
                     " pass-through's (each round's)"),
    ]  # fmt: skip
    for label, report in (("before", before), ("after", after)):
        checks = report["figures"].get("checks", [])
        lines = [f"[{MARKS[c['passed']]}] {c['name']}: {c['detail']}" for c in checks]
        parts.append(f"Checks {label}\n" + "\n".join(lines))
    return "\n\n".join(parts) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Compare two reports, or run the benchmark and compare its report with an earlier one."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench.overhead_compare", description=__doc__.splitlines()[0]
    )
    parser.add_argument("before", type=Path, help="an earlier gateway_overhead.json")
    parser.add_argument("after", type=Path, nargs="?", help="a later gateway_overhead.json")
    parser.add_argument("--run", type=Path, metavar="DIR", help="run the benchmark into DIR first")
    parser.add_argument("--quick", action="store_true", help="with --run: the quick benchmark")
    args = parser.parse_args(argv)
    if (args.after is None) == (args.run is None):
        parser.error("give either AFTER or --run DIR")
    before = load_report(args.before)
    after_path = args.after
    if args.run is not None:
        command = [sys.executable, "-P", "-m", "benchmarks.bench", NAME, "--out", str(args.run)]
        subprocess.run([*command, *(["--quick"] if args.quick else [])], check=False)  # noqa: S603
        after_path = args.run / f"{NAME}.json"
    sys.stdout.write(compare(before, load_report(after_path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
