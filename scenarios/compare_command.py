"""``meltproof compare``, ``ab``, ``capacity`` and ``gate``: is the candidate slower, flakier
or more expensive than the baseline, and how much load does it take?

Exit codes: 0 no regression; 1 an absolute SLO failed (``gate``); 2 a significant regression;
3 harness error, or a comparison that could not decide (too few runs).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NoReturn

import click
from rich.markup import escape

from .compare.capacity import find_capacity
from .compare.comparison import Comparison, compare
from .compare.gate import load_gate_config, read_baseline, write_baseline
from .compare.interleaved import run_interleaved, worktree
from .compare.render import document, markdown, page
from .compare.result_set import ResultSetError, load_result_set
from .console import EXIT_HARNESS_ERROR, console, errors
from .interrupts import interrupt_on_signals
from .run_command import EXIT_PASS, EXIT_SLO_FAILED, default_runs_dir, load_all
from .runner import HARNESS_ERRORS, RunOptions, run_scenario


EXIT_REGRESSION = 2
COMPARE_ERRORS: tuple[type[BaseException], ...] = (*HARNESS_ERRORS, ResultSetError, ValueError)
_alpha = click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="Significance level, Holm-corrected across a scenario's metrics.",
)
_min_effect = click.option(
    "--min-effect",
    type=click.FloatRange(0),
    default=0.05,
    show_default=True,
    help="Smallest relative change of a median that counts.",
)


def _say(message: str) -> None:
    console.print(escape(message))


def _fail(exc: BaseException) -> NoReturn:
    errors.print(f"[bold red]error:[/] {escape(str(exc))}")
    sys.exit(EXIT_HARNESS_ERROR)


def write_comparison(comparison: Comparison, out: Path) -> int:
    """Write comparison.md/.html/.json into ``out``, print the Markdown, return the exit code."""
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(comparison)
    (out / "comparison.md").write_text(text, encoding="utf-8")
    (out / "comparison.html").write_text(page(comparison), encoding="utf-8")
    (out / "comparison.json").write_text(
        json.dumps(document(comparison), indent=1, allow_nan=False) + "\n", encoding="utf-8"
    )
    console.print(text, markup=False)
    console.print(f"comparison: {escape(str(out / 'comparison.html'))}")
    return {"worse": EXIT_REGRESSION, "unknown": EXIT_HARNESS_ERROR}.get(comparison.verdict, 0)


@click.command(name="compare")
@click.argument("baseline", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("candidate", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_alpha
@_min_effect
@click.option("--force", is_flag=True, help="Compare even sets from different testbeds.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where comparison.md/.html/.json go.  [default: CANDIDATE]",
)
def compare_command(
    baseline: Path, candidate: Path, alpha: float, min_effect: float, force: bool, out: Path | None
) -> None:
    """Compare the runs in CANDIDATE with those in BASELINE (folders of scenario runs).

    Per scenario and metric (p50/p95/p99, error rate, goodput, cost per request, cache hit,
    amplification, capacity): the change with a confidence interval and a verdict, better,
    worse, same or unknown. Exit 2 on a significant regression, 3 when too few runs decide.
    """
    try:
        comparison = compare(
            load_result_set(baseline),
            load_result_set(candidate),
            alpha=alpha,
            min_effect=min_effect,
            force=force,
        )
    except ResultSetError as exc:
        _fail(exc)
    sys.exit(write_comparison(comparison, out or candidate))


@click.command(name="ab")
@click.argument("scenarios", nargs=-1, required=True)
@click.option("--baseline-ref", help="Git ref whose gateway is the baseline (a worktree).")
@click.option(
    "--runs",
    type=click.IntRange(1, 50),
    default=6,
    show_default=True,
    help="Runs per side; the verdicts need about 6 for a scenario's 9 metrics.",
)
@click.option(
    "--extra-latency-ms",
    type=click.IntRange(1),
    help=("Slow the candidate's provider link by this much (a known regression, to calibrate)."),
)
@_alpha
@_min_effect
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where both sides' runs and the comparison go.  [default: .meltproof/runs/<time>]",
)
def ab_command(
    scenarios: tuple[str, ...],
    baseline_ref: str | None,
    runs: int,
    extra_latency_ms: int | None,
    alpha: float,
    min_effect: float,
    out: Path | None,
) -> None:
    """Run SCENARIOS for a baseline and the candidate, interleaved (A B A B ...), and compare.

    The candidate is this checkout; the baseline is --baseline-ref's gateway (checked out in
    a git worktree, run by this checkout's harness), or this checkout too (an A/A run).
    """
    interrupt_on_signals()
    out = out or default_runs_dir()
    try:
        specs = load_all(scenarios)
        source = worktree(baseline_ref, out / "baseline-src") if baseline_ref else None
        base, cand = run_interleaved(
            specs,
            out=out / "runs" / default_runs_dir().name,
            runs=runs,
            baseline_source=source,
            extra_latency_ms=extra_latency_ms,
            say=_say,
        )
        comparison = compare(
            load_result_set(base), load_result_set(cand), alpha=alpha, min_effect=min_effect
        )
    except COMPARE_ERRORS as exc:
        _fail(exc)
    sys.exit(write_comparison(comparison, out))


@click.command(name="capacity")
@click.argument("scenario")
@click.option(
    "--profile",
    type=click.Choice(["naive", "hardened"]),
    multiple=True,
    default=["naive", "hardened"],
    show_default=True,
)
@click.option(
    "--low",
    type=click.FloatRange(0, min_open=True),
    default=2.0,
    show_default=True,
    help="First rate tried, clicks/s.",
)
@click.option(
    "--high",
    type=click.FloatRange(0, min_open=True),
    default=256.0,
    show_default=True,
    help="Highest rate tried, clicks/s.",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(0.01, 1),
    default=0.1,
    show_default=True,
    help="Stop when the bounds are this close (relative).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of every step's run.  [default: .meltproof/runs/<time>]",
)
def capacity_command(
    scenario: str,
    profile: tuple[str, ...],
    low: float,
    high: float,
    tolerance: float,
    out: Path | None,
) -> None:
    """The highest click rate at which SCENARIO's SLO checks pass, per gateway profile."""
    interrupt_on_signals()
    out = out or default_runs_dir()
    try:
        [spec] = load_all([scenario])
        for name in profile:
            found = find_capacity(
                spec,
                profile=name,
                out=out / name,
                low_rps=low,
                high_rps=high,
                tolerance=tolerance,
                say=_say,
            )
            console.print(
                f"[bold]{escape(f'{spec.name} [{name}]')}[/]: {found.capacity_rps:,.1f} clicks/s"
            )
    except COMPARE_ERRORS as exc:
        _fail(exc)


@click.command(name="gate")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=Path("perf/gate.yaml"),
    show_default=True,
)
@click.option(
    "--update-baseline",
    is_flag=True,
    help="Store this run's samples as the new baseline if every run passed (then commit it).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".meltproof/perf_gate"),
    show_default=True,
)
def gate_command(config_path: Path, update_baseline: bool, out: Path) -> None:
    """The nightly gate: the suite's SLOs, then no significant regression from the baseline.

    Exit 0 pass, 1 an SLO check failed, 2 a significant regression, 3 harness error.
    """
    interrupt_on_signals()
    try:
        config = load_gate_config(config_path)
        here = config_path.parent
        specs = load_all([str(here / s) if (here / s).exists() else s for s in config.scenarios])
        runs_dir = out / "runs" / default_runs_dir().name
        verdicts = []
        for index in range(config.runs):
            for spec in specs:
                _say(f"run {index + 1}/{config.runs}: {spec.name}")
                outcome = run_scenario(spec, RunOptions(runs_dir / f"{index:02d}" / spec.name))
                verdicts.append(outcome.verdict)
                _say(f"  {outcome.verdict}")
        current = load_result_set(runs_dir)
        baseline_path = here / config.baseline
        if update_baseline:
            if set(verdicts) == {"pass"}:
                write_baseline(current, baseline_path)
                console.print(f"baseline stored: {escape(str(baseline_path))}; commit it")
            else:
                errors.print("not stored: a baseline is made of runs that all passed")
            comparison = None
        else:
            comparison = compare(
                read_baseline(baseline_path),
                current,
                alpha=config.alpha,
                min_effect=config.min_effect,
            )
    except COMPARE_ERRORS as exc:
        _fail(exc)
    code = write_comparison(comparison, out) if comparison else EXIT_PASS
    if "unknown" in verdicts:
        errors.print("[bold red]a run could not be judged[/]; see the runs' reports")
        sys.exit(EXIT_HARNESS_ERROR)
    if "fail" in verdicts:
        errors.print("[bold red]an SLO check failed[/]; see the runs' reports")
        sys.exit(EXIT_SLO_FAILED)
    sys.exit(EXIT_PASS if code == EXIT_HARNESS_ERROR else code)  # too few runs is no failure
