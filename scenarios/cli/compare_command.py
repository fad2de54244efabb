"""``meltproof compare``, ``ab`` and ``capacity``: is the candidate slower, flakier or more
expensive than the baseline, and how much load does it take? (``gate_command`` builds on these.)

Exit codes: 0 no regression; 2 a significant regression; 3 harness error, or a comparison
that could not decide (too few runs); 130 interrupted.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn

import click
from rich.markup import escape

from ..ci_output import (
    JUnitSuite,
    annotate,
    annotate_comparison,
    append_step_summary,
    suite_of_comparison,
    write_junit,
)
from ..compare.capacity import find_capacity, summary
from ..compare.comparison import Comparison, compare
from ..compare.interleaved import baseline_and_candidate, run_interleaved
from ..compare.render import document, markdown, page
from ..compare.result_set import ResultSetError, load_result_set
from ..console import EXIT_HARNESS_ERROR, console, errors
from ..engine_options import engine_of, engine_options
from ..git import GitError, checkout_root, worktree
from ..interrupts import interrupt_on_signals
from ..runner import HARNESS_ERRORS, SteadyStateError
from ..target_option import label_of, with_target
from .run_command import default_runs_dir, load_all, load_one


EXIT_REGRESSION = 2
EXIT_INTERRUPTED = 130
COMPARE_ERRORS: tuple[type[BaseException], ...] = (
    *HARNESS_ERRORS, SteadyStateError, ResultSetError, GitError, ValueError,
)  # fmt: skip
"""What ends a comparison without a verdict (exit 3); a steady-state failure on either side
included, since a comparison cannot be made without both."""
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


def say(message: str) -> None:
    """A line of progress."""
    console.print(escape(message))


def fail(exc: BaseException) -> NoReturn:
    """Print ``exc`` as the error it is (an annotation on GitHub Actions too) and exit 3."""
    errors.print(f"[bold red]error:[/] {escape(str(exc))}")
    annotate("error", "meltproof", f"{type(exc).__name__}: {exc}")
    sys.exit(EXIT_HARNESS_ERROR)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Ctrl-C or SIGTERM (``interrupt_on_signals``) ends the command with exit 130, after
    every stack and worktree opened inside the block has been closed."""
    interrupt_on_signals()
    try:
        yield
    except KeyboardInterrupt:
        errors.print("interrupted; every stack is stopped and every fault healed")
        sys.exit(EXIT_INTERRUPTED)


_junit = click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the comparison as JUnit XML to FILE (one testcase per scenario and metric).",
)


def write_comparison(
    comparison: Comparison,
    out: Path,
    *,
    junit: Path | None = None,
    run_suites: Sequence[JUnitSuite] = (),
) -> int:
    """Write comparison.md/.html/.json into ``out``, print the Markdown, publish it on GitHub
    Actions (step summary, annotations), write ``junit`` (``run_suites`` first); the exit code.
    """
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(comparison)
    (out / "comparison.md").write_text(text, encoding="utf-8")
    (out / "comparison.html").write_text(page(comparison), encoding="utf-8")
    (out / "comparison.json").write_text(
        json.dumps(document(comparison), indent=1, allow_nan=False) + "\n", encoding="utf-8"
    )
    console.print(text, markup=False)
    console.print(f"comparison: {escape(str(out / 'comparison.html'))}")
    append_step_summary(text)
    annotate_comparison(comparison)
    if junit:
        write_junit(junit, [*run_suites, suite_of_comparison(comparison)])
    return {"worse": EXIT_REGRESSION, "unknown": EXIT_HARNESS_ERROR}.get(comparison.verdict, 0)


@click.command(name="compare")
@click.argument("baseline", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("candidate", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_alpha
@_min_effect
@click.option("--force", is_flag=True, help="Compare even sets from different testbeds.")
@_junit
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where comparison.md/.html/.json go.  [default: CANDIDATE]",
)
def compare_command(
    baseline: Path,
    candidate: Path,
    alpha: float,
    min_effect: float,
    force: bool,
    junit: Path | None,
    out: Path | None,
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
        fail(exc)
    sys.exit(write_comparison(comparison, out or candidate, junit=junit))


@click.command(name="ab")
@click.argument("scenarios", nargs=-1)
@click.option("--baseline-ref", help="Git ref whose gateway is the baseline (a worktree).")
@click.option(
    "--target",
    type=click.Choice(["naive", "hardened"]),
    help="Run our gateway in this profile on both sides, whatever the scenarios say.",
)
@click.option(
    "--runs",
    type=click.IntRange(1, 50),
    default=6,
    show_default=True,
    help="Runs per side; the verdicts need 6 for a scenario's 10 metrics.",
)
@click.option(
    "--extra-latency-ms",
    type=click.IntRange(1),
    help="Slow the candidate's provider link by this much (a known regression, to calibrate).",
)
@_alpha
@_min_effect
@_junit
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where both sides' runs and the comparison go.  [default: .meltproof/runs/<time>]",
)
def ab_command(
    scenarios: tuple[str, ...],
    baseline_ref: str | None,
    target: str | None,
    runs: int,
    extra_latency_ms: int | None,
    alpha: float,
    min_effect: float,
    junit: Path | None,
    out: Path | None,
) -> None:
    """Run SCENARIOS (default: steady_chat) for a baseline and the candidate, interleaved
    (A B A B ...), and compare.

    The candidate is this checkout's gateway (the git work tree around the current directory;
    the installed one outside a checkout); the baseline is --baseline-ref's (checked out in a
    git worktree), or the candidate's code too (an A/A run). Both run with this checkout's
    harness; the comparison names the folder and commit each side's gateway ran from.
    """
    out = out or default_runs_dir()
    with interruptible(), contextlib.ExitStack() as trees:
        try:
            specs = load_all(scenarios or ["steady_chat"])
            if target is not None:
                specs = [with_target(spec, target) for spec in specs]
            candidate = checkout_root(Path.cwd())
            baseline = (
                trees.enter_context(worktree(baseline_ref, out / "baseline-src"))
                if baseline_ref
                else candidate
            )
            sides = run_interleaved(
                specs,
                baseline_and_candidate(baseline, candidate, extra_latency_ms=extra_latency_ms),
                out=out / "runs" / default_runs_dir().name,
                runs=runs,
                say=say,
            )
            comparison = compare(
                load_result_set(sides["baseline"].folder),
                load_result_set(sides["candidate"].folder),
                alpha=alpha,
                min_effect=min_effect,
            )
        except COMPARE_ERRORS as exc:
            fail(exc)
    sys.exit(write_comparison(comparison, out, junit=junit))


def _capacity_targets(profiles: Sequence[str], targets: Sequence[str]) -> list[str]:
    """The targets to search, each under a label of its own."""
    if profiles and targets:
        raise click.UsageError("give --profile or --target, not both")
    values = list(profiles or targets or ("naive", "hardened"))
    labels = [label_of(value) for value in values]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise click.UsageError(f"more than one target named {', '.join(repeated)}")
    return values


@click.command(name="capacity")
@click.argument("scenario")
@click.option(
    "--target",
    "targets",
    metavar="TARGET",
    multiple=True,
    help="A target to search (repeatable): naive or hardened (our gateway), litellm or "
    "portkey (built-in peers), or a YAML file with a scenario's target mapping.  "
    "[default: naive and hardened]",
)
@click.option(
    "--profile",
    type=click.Choice(["naive", "hardened"]),
    multiple=True,
    help="Our gateway's profile to search (repeatable); the same as --target naive|hardened.",
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
@engine_options
def capacity_command(
    scenario: str,
    targets: tuple[str, ...],
    profile: tuple[str, ...],
    low: float,
    high: float,
    tolerance: float,
    out: Path | None,
    locust_workers: int | None,
    remote_workers: int,
    master_host: str,
    master_port: int | None,
) -> None:
    """The highest click rate at which SCENARIO's SLO checks pass, per target.

    Prints the highest passing and the lowest failing rate; when every rate up to --high
    passes, or --low already fails, it says so (the capacity is only known to be above or
    below). capacity.json records both bounds.
    """
    out = out or default_runs_dir()
    engine = engine_of(locust_workers, remote_workers, master_host, master_port)
    with interruptible():
        try:
            spec = load_one(scenario)
            for value in _capacity_targets(profile, targets):
                name = label_of(value)
                found = find_capacity(
                    with_target(spec, value),
                    target=name,
                    out=out / name,
                    low_rps=low,
                    high_rps=high,
                    tolerance=tolerance,
                    engine=engine,
                    say=say,
                )
                label = escape(f"{spec.name} [{name}]")
                console.print(f"[bold]{label}[/]: {escape(summary(found))}")
        except COMPARE_ERRORS as exc:
            fail(exc)
