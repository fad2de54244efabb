"""``meltproof run`` (scenarios and suites) and ``meltproof check`` (re-check a stored run).

Exit codes: 0 every check passed (or was not applicable to the target); 1 an SLO check failed
(or steady state failed before the faults); 3 harness error (a bad scenario file, a stack that
would not start, a generator that fell behind, a check that could not be decided). 2 is kept for
regressions (``compare``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from benchmarks.history import HistoryError

from ..checks import NOT_APPLICABLE, CheckResult
from ..checks.run_verdict import verdict_of
from ..ci_output import (
    JUnitSuite,
    publish_run,
    publish_stopped_run,
    suite_of_checks,
    suite_of_harness_error,
    suite_of_steady_state_failure,
    write_junit,
)
from ..console import EXIT_HARNESS_ERROR, console, errors
from ..engine_options import engine_of, engine_options
from ..interrupts import interrupt_on_signals
from ..loader import load_scenario, resolve
from ..log_table import log_table
from ..progress import LoadProgress
from ..report import write_reports
from ..runner import (
    HARNESS_ERRORS,
    RunOptions,
    RunOutcome,
    SteadyStateError,
    all_results,
    run_scenario,
)
from ..schema import ScenarioSpec, SuiteError
from ..stored_run import read_run
from ..target_option import target_option, with_target


EXIT_PASS = 0
EXIT_SLO_FAILED = 1
VERDICT_STYLE = {
    True: "[green]PASS[/]",
    False: "[bold red]FAIL[/]",
    "unknown": "[yellow]UNKNOWN[/]",
    NOT_APPLICABLE: "[dim]N/A[/]",
}


def exit_code(verdicts: Sequence[str]) -> int:
    """0 if every run passed, 1 if any failed, else 3 (a check could not be decided).

    A run passes when each of its checks passed or was not applicable (``verdict_of``)."""
    if "fail" in verdicts:
        return EXIT_SLO_FAILED
    if "unknown" in verdicts:
        return EXIT_HARNESS_ERROR
    return EXIT_PASS


def default_runs_dir() -> Path:
    """``.meltproof/runs/<UTC time>`` below the current directory."""
    return Path(".meltproof") / "runs" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


@click.command()
@click.argument("scenarios", nargs=-1, required=True)
@click.option(
    "--profile",
    type=click.Choice(["naive", "hardened"]),
    help="Run our gateway in this profile, whatever the scenario says.",
)
@target_option()
@click.option("--workers", type=click.IntRange(1, 16), help="Gateway worker processes.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the runs (one sub-folder per scenario).  [default: .meltproof/runs/<time>]",
)
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the checks as JUnit XML to FILE (one testcase per check).",
)
@click.option(
    "--traces",
    is_flag=True,
    help="Start Jaeger beside the stack (built once with Go: minutes the first time), send "
    "every request with a sampled W3C traceparent, and list the slowest requests' spans in "
    "the report (our gateway sends spans; other targets only if configured to).",
)
@engine_options
def run(
    scenarios: tuple[str, ...],
    profile: str | None,
    target: str | None,
    workers: int | None,
    out: Path | None,
    junit: Path | None,
    traces: bool,
    locust_workers: int | None,
    remote_workers: int,
    master_host: str,
    master_port: int | None,
) -> None:
    """Run SCENARIOS: scenario files, suite folders, built-in names, or ``all``.

    Each scenario starts the stack and its target (our gateway in its profile, or the one
    --target names, wired through the stack's links), checks steady state, drives
    its open-loop load while its faults act on their timeline, checks its SLOs over the
    stored run and writes report.json, report.md and report.html. Exit status: 0 all checks
    pass (or are not applicable to the target), 1 an SLO check failed, 3 harness error or an
    undecided check. On GitHub Actions each report goes to the step summary, and what failed or
    stayed undecided is annotated.
    """
    interrupt_on_signals()
    if profile is not None and target is not None:
        errors.print("[bold red]error:[/] give --profile or --target, not both")
        sys.exit(EXIT_HARNESS_ERROR)
    try:
        specs = load_all(scenarios)
        if target is not None:
            specs = [with_target(spec, target) for spec in specs]
    except SuiteError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        sys.exit(EXIT_HARNESS_ERROR)
    runs_dir = out or default_runs_dir()
    engine = engine_of(locust_workers, remote_workers, master_host, master_port)
    ran = [
        _run_one(
            spec,
            RunOptions(
                runs_dir / spec.name,
                profile=profile,
                workers=workers,
                engine=engine,
                traces=traces,
            ),
        )
        for spec in specs
    ]
    verdicts = [verdict for verdict, _ in ran]
    if junit is not None:
        write_junit(junit, [suite for _, suite in ran])
    if len(verdicts) > 1:
        console.print(f"[bold]{len(verdicts)} scenarios[/]: " + ", ".join(verdicts))
    sys.exit(exit_code(verdicts))


def load_all(names: Sequence[str]) -> list[ScenarioSpec]:
    """Every scenario that ``names`` (files, folders, built-in names) stand for."""
    specs = [load_scenario(path) for name in names for path in resolve(name)]
    seen = [spec.name for spec in specs]
    repeated = sorted({n for n in seen if seen.count(n) > 1})
    if repeated:
        raise SuiteError(f"scenario names must be unique in one run: {', '.join(repeated)}")
    return specs


def load_one(name: str) -> ScenarioSpec:
    """The one scenario ``name`` stands for; ``SuiteError`` if it stands for several."""
    specs = load_all([name])
    if len(specs) != 1:
        raise SuiteError(f"{name} holds {len(specs)} scenarios; name one of them")
    return specs[0]


def _run_one(spec: ScenarioSpec, options: RunOptions) -> tuple[str, JUnitSuite]:
    """Run one scenario, print its verdict and publish it on GitHub Actions; harness errors
    become ``unknown``. Returns the verdict and the run as a JUnit suite."""
    console.rule(f"[bold]{escape(spec.name)}[/]")
    started = time.monotonic()
    try:
        outcome = run_with_progress(spec, options)
    except SteadyStateError as exc:
        errors.print(f"[bold red]steady state failed:[/] {escape(str(exc))}")
        publish_stopped_run(spec.name, "steady state failed", str(exc))
        elapsed_s = time.monotonic() - started
        return "fail", suite_of_steady_state_failure(spec.name, str(exc), time_s=elapsed_s)
    except HARNESS_ERRORS as exc:
        message = f"{type(exc).__name__}: {exc}"
        errors.print(f"[bold red]harness error:[/] {escape(message)}")
        publish_stopped_run(spec.name, "harness error", message)
        elapsed_s = time.monotonic() - started
        return "unknown", suite_of_harness_error(spec.name, message, time_s=elapsed_s)
    print_results(outcome.results)
    console.print(f"report: {escape(str(outcome.reports.html))}")
    publish_run(spec.name, outcome.results, outcome.reports.markdown)
    elapsed_s = time.monotonic() - started
    return outcome.verdict, suite_of_checks(spec.name, outcome.results, time_s=elapsed_s)


def run_with_progress(spec: ScenarioSpec, options: RunOptions) -> RunOutcome:
    """Run ``spec`` with load progress (``LoadProgress``) and a line per stage and fault."""
    with LoadProgress(console, spec.name) as progress:

        def say(message: str) -> None:
            console.print(f"[dim]{progress.elapsed_s:6.1f} s[/] {escape(message)}")

        try:
            return run_scenario(spec, options, say=say, progress=progress.show)
        except KeyboardInterrupt:
            errors.print("interrupted; the stack is stopped and every fault healed")
            sys.exit(130)


def print_results(results: Sequence[CheckResult]) -> None:
    """The checks as a table, then the verdict. Without a terminal (a CI log) each check's
    details go on their own line below it, so they are never cut to the console's width."""
    if console.is_terminal:
        table = Table("check", "verdict", "observed", "limit", "details", box=None, padding=(0, 1))
        for r in results:
            table.add_row(
                escape(r.name),
                VERDICT_STYLE[r.valid],
                _figure(r.observed, r.unit),
                _figure(r.limit, r.unit),
                escape(r.details),
            )
        console.print(table)
    else:
        header = ("check", "verdict", "observed", "limit")
        rows = [
            (
                r.name,
                Text.from_markup(VERDICT_STYLE[r.valid]).plain,
                _figure(r.observed, r.unit),
                _figure(r.limit, r.unit),
            )
            for r in results
        ]
        for line in log_table(header, rows, [r.details for r in results]):
            console.out(line)
    console.print(f"verdict: [bold]{verdict_of(results)}[/]{_not_applicable_count(results)}")


def _not_applicable_count(results: Sequence[CheckResult]) -> str:
    """`` (2 checks not applicable)``, or nothing when every check applied."""
    count = sum(r.valid == NOT_APPLICABLE for r in results)
    if not count:
        return ""
    return f" ({count} check{'s' if count > 1 else ''} not applicable to the target)"


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    return f"{value:,.4g} {unit}".strip()


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--scenario",
    "scenario_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Check against this file's checks instead of those stored with the run.",
)
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the checks as JUnit XML to FILE (one testcase per check).",
)
def check(run_dir: Path, scenario_file: Path | None, junit: Path | None) -> None:
    """Check a stored run again and rewrite its reports (RUN_DIR: a run's run/ folder).

    Checks are pure functions of the stored run, so changed SLOs can be tried on an old run
    without running it again. On GitHub Actions the report goes to the step summary, and what
    failed or stayed undecided is annotated.
    """
    try:
        stored = read_run(run_dir)
        spec = (
            load_scenario(scenario_file)
            if scenario_file
            else ScenarioSpec.model_validate(stored.scenario)
        )
    except (HistoryError, SuiteError) as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        sys.exit(EXIT_HARNESS_ERROR)
    except ValidationError:
        errors.print(
            f"[bold red]error:[/] {escape(str(run_dir))} holds no scenario this meltproof can "
            "read (a plain load history, or one of another version); give one with --scenario"
        )
        sys.exit(EXIT_HARNESS_ERROR)
    results = all_results(spec, stored)
    print_results(results)
    reports = write_reports(stored, results)
    console.print(f"report: {escape(str(reports.html))}")
    if junit is not None:
        write_junit(junit, [suite_of_checks(spec.name, results)])
    publish_run(spec.name, results, reports.markdown)
    sys.exit(exit_code([verdict_of(results)]))
