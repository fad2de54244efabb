"""Gateways of several source trees side by side: CPU per request in alternated rounds.

``python -m benchmarks.bench.gateway_ab BASE CANDIDATE [--hit] [--rounds N] [--seconds S]
[--out DIR]``
starts one provider and one Redis, the bare pass-through and the gateway of each source tree
(a checkout holding ``reference_impl``; ``git worktree add ../base main`` makes one), and runs
them one after another at each rate of ``gateway_overhead``'s rounds, ``--rounds`` times,
with the hardened configuration of that benchmark: cache misses (Redis emptied before each
step, as the trees share it), or with ``--hit`` the hits of a few prompts cached first.

On a machine whose speed drifts over minutes, two runs of the benchmark carry that drift into
their ratio; steps seconds apart do not. Each tree's figure is the median over the rounds of
its ratio, round by round, to the first tree and to the pass-through: a round that a burst of
other load spoiled moves a median of several rounds little.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

from stack.errors import StackError

from .common import format_table, say
from .gateway_overhead.driver import testbed
from .gateway_overhead.parameters import HIT_PROMPTS, OverheadParameters
from .gateway_overhead.rounds import CPU_RATES_RPS, CpuRound, round_ratios, round_step
from .gateway_overhead.targets import RoundTarget, Testbed, warm_cache


NAME = "gateway_ab"
EXIT_COULD_NOT_RUN = 3
PASSTHROUGH = "passthrough"
DEFAULT_ROUNDS = 4
DEFAULT_STEP_S = 10.0
NO_P99_LIMIT_S = math.inf
"""A step counts if it is healthy (no errors, no shortfall): there is no ladder to limit."""


def tree_labels(trees: Sequence[Path]) -> list[str]:
    """Each tree's label in the tables: its position and its directory's name."""
    return [f"{index}:{tree.name}" for index, tree in enumerate(trees, start=1)]


def source_tree_problem(tree: Path) -> str | None:
    """Why ``tree`` cannot run a gateway, or None."""
    if not tree.is_dir():
        return f"{tree}: no such directory"
    if not (tree / "reference_impl" / "__init__.py").is_file():
        return f"{tree}: not a source tree (it holds no reference_impl package)"
    return None


def summary_rows(rounds: Sequence[CpuRound], labels: Sequence[str]) -> list[list[str]]:
    """Per rate and target: CPU µs per request in each round and their median, and the
    median over the rounds of its ratio to the pass-through's and to the first tree's."""
    rows = []
    for rate in CPU_RATES_RPS:
        for label in [PASSTHROUGH, *labels]:
            each = cpu_by_round(rounds, label, rate)
            counted = [cpu for cpu in each if cpu is not None]
            rows.append(
                [
                    f"{rate:,}",
                    label,
                    " ".join("-" if cpu is None else f"{cpu:,.0f}" for cpu in each),
                    f"{statistics.median(counted):,.0f}" if counted else "-",
                    _ratio_cell(median_ratio(rounds, label, PASSTHROUGH, rate)),
                    _ratio_cell(median_ratio(rounds, label, labels[0], rate)),
                ]
            )
    return rows


def figures(rounds: Sequence[CpuRound], labels: Sequence[str]) -> dict[str, Any]:
    """By target and rate: CPU µs per request in each round (None: the step failed or was
    disturbed), whether the hypervisor disturbed each round's step, and the median ratios to
    the pass-through and to the first tree."""
    return {
        label: {
            str(rate): {
                "cpu_us_per_request": cpu_by_round(rounds, label, rate),
                "disturbed": [
                    (step := round_step(one, label, rate)) is not None and step.disturbed
                    for one in rounds
                ],
                "x_passthrough": median_ratio(rounds, label, PASSTHROUGH, rate),
                "x_first": median_ratio(rounds, label, labels[0], rate),
            }
            for rate in CPU_RATES_RPS
        }
        for label in [PASSTHROUGH, *labels]
    }


def cpu_by_round(rounds: Sequence[CpuRound], label: str, rate: int) -> list[float | None]:
    """``label``'s CPU µs per request at ``rate`` in each round; None where its step failed or
    was disturbed."""
    found: list[float | None] = []
    for one in rounds:
        step = round_step(one, label, rate)
        if step is None or not step.comparable(NO_P99_LIMIT_S):
            found.append(None)
        else:
            found.append(step.cpu_us_per_request())
    return found


def median_ratio(rounds: Sequence[CpuRound], ours: str, other: str, rate: int) -> float | None:
    """The median over the rounds where both steps passed undisturbed of ``ours``'s CPU per
    request over ``other``'s at ``rate``; None if no round had both."""
    found = {r.rate_rps: r for r in round_ratios(rounds, ours, other, NO_P99_LIMIT_S)}
    return found[rate].median if rate in found else None


def _ratio_cell(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}"


def run_rounds(bench: Testbed, trees: Sequence[Path], *, hit: bool) -> tuple[CpuRound, ...]:
    """The pass-through and each tree's gateway, alternated ``cpu_rounds`` times."""
    targets = [RoundTarget(PASSTHROUGH, bench.start_passthrough)]
    for label, tree in zip(tree_labels(trees), trees, strict=True):
        name = f"ab_{label.replace(':', '_')}"

        def start(running: ExitStack, name: str = name, tree: Path = tree) -> tuple[str, int]:
            return bench.start_gateway(running, name, source=tree)

        if hit:
            targets.append(RoundTarget(label, start, prompts=HIT_PROMPTS, prepare=warm_cache))
        else:
            targets.append(RoundTarget(label, start, prepare=lambda _url: bench.empty_redis()))
    return bench.alternate(targets, bench.parameters.cpu_rounds)


def report_text(
    rounds: Sequence[CpuRound], labels: Sequence[str], *, hit: bool, load: Mapping[str, Any]
) -> str:
    """The table and the load averages, for stdout."""
    headers = ["rate/s", "target", "CPU µs/req by round", "median", "x pass-through", "x 1st"]
    title = (
        f"CPU per request, cache {'hits' if hit else 'misses'}, {len(rounds)} alternated"
        " rounds (a ratio: the median of the rounds' ratios; '-' a failed step, or one from"
        " which the hypervisor took the cores)"
    )
    averages = ", ".join(
        f"{moment} {' '.join(f'{x:.2f}' for x in load[moment])}" for moment in load
    )
    table = format_table(headers, summary_rows(rounds, labels), title=title)
    return f"{table}\nload average {averages}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the rounds, print the table, write ``<out>/gateway_ab.json``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench.gateway_ab", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "trees", type=Path, nargs="+", metavar="TREE", help="source trees; the first is the base"
    )
    parser.add_argument("--hit", action="store_true", help="cache hits (default: misses)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=DEFAULT_ROUNDS,
        help="alternated rounds (default: %(default)s)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=DEFAULT_STEP_S,
        help="each step's length (default: %(default)g)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(".meltproof") / "bench",
        help="where to write (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if not args.seconds >= 1:
        parser.error("--seconds must be at least 1")
    for tree in args.trees:
        if (problem := source_tree_problem(tree)) is not None:
            parser.error(problem)
    trees = [tree.resolve() for tree in args.trees]
    labels = tree_labels(trees)
    parameters = replace(
        OverheadParameters.for_run(quick=False), cpu_rounds=args.rounds, duration_s=args.seconds
    )
    log_dir = args.out / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    load = {"before": os.getloadavg()}
    try:
        with testbed(parameters, log_dir) as bench:
            rounds = run_rounds(bench, trees, hit=args.hit)
    except (StackError, RuntimeError, OSError) as exc:
        say(f"{NAME}: could not start the provider or Redis: {exc}")
        return EXIT_COULD_NOT_RUN
    load["after"] = os.getloadavg()
    if not rounds:
        say(f"{NAME}: no round completed; the servers' logs are in {log_dir}")
        return EXIT_COULD_NOT_RUN
    sys.stdout.write(report_text(rounds, labels, hit=args.hit, load=load))
    document = {
        "benchmark": NAME,
        "trees": dict(zip(labels, map(str, trees), strict=True)),
        "kind": "hit" if args.hit else "miss",
        "rounds": len(rounds),
        "rates_rps": list(CPU_RATES_RPS),
        "load_average": load,
        "targets": figures(rounds, labels),
    }
    (args.out / f"{NAME}.json").write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
