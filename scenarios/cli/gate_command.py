"""``meltproof gate``: the nightly gate (see ``compare.gate``).

Exit 0 pass, 1 an SLO check of the candidate failed, 2 a significant regression, 3 harness
error, an undecided run, or a stored baseline from another testbed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import click
from click.decorators import FC
from rich.markup import escape

from benchmarks.history import testbed

from ..ci_output import publish_run, suite_of_checks, write_junit
from ..compare.comparison import Comparison, compare, require_same_testbed
from ..compare.gate import (
    GateConfig,
    load_gate_config,
    read_baseline,
    scenario_names,
    write_baseline,
)
from ..compare.interleaved import baseline_and_candidate, run_interleaved
from ..compare.result_set import ResultSet, load_result_set, make_testbed
from ..console import EXIT_HARNESS_ERROR, console, errors
from ..git import checkout_root, worktree
from ..runner import RunOptions, RunOutcome, run_on_stack, scenario_stack
from ..schema import ScenarioSpec
from .compare_command import (
    COMPARE_ERRORS,
    EXIT_REGRESSION,
    fail,
    interruptible,
    say,
    write_comparison,
)
from .run_command import EXIT_PASS, EXIT_SLO_FAILED, default_runs_dir, load_all


def gate_config_option(help_text: str) -> Callable[[FC], FC]:
    """``--config``: the gate's config file (perf/gate.yaml)."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=Path("perf/gate.yaml"),
        show_default=True,
        help=help_text,
    )


@click.command(name="gate")
@gate_config_option("The gate's suite, runs per side, alpha, minimum effect and baseline.")
@click.option(
    "--reference",
    metavar="REF",
    help="Compare with this git ref's gateway, run interleaved on this machine (the default "
    "mode).  [default: the config's reference]",
)
@click.option(
    "--stored-baseline",
    is_flag=True,
    help="Compare with the config's stored baseline file instead (a stable, self-hosted machine).",
)
@click.option(
    "--update-baseline",
    is_flag=True,
    help="Run the suite and store its samples as the baseline file if every run passed.",
)
@click.option("--force", is_flag=True, help="Compare with a stored baseline from another testbed.")
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the candidate's checks and the comparison as JUnit XML to FILE.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".meltproof/perf_gate"),
    show_default=True,
    help="Where the runs and comparison.md/.html/.json go.",
)
def gate_command(
    config_path: Path,
    reference: str | None,
    stored_baseline: bool,
    update_baseline: bool,
    force: bool,
    junit: Path | None,
    out: Path,
) -> None:
    """The nightly gate: the candidate's SLOs, then no significant regression from a baseline.

    By default the baseline is another git ref's gateway (--reference, else the config's),
    run interleaved with this checkout's on this machine: nothing stored, so a runner whose
    processor changes between nights still compares like with like. --stored-baseline
    compares with perf/baseline.json instead; its testbed must match this one.

    Exit 0 pass, 1 an SLO check failed, 2 a significant regression, 3 harness error.
    """
    if reference and (stored_baseline or update_baseline):
        raise click.UsageError("--reference compares with a ref, not with a stored baseline")
    with interruptible():
        try:
            config = load_gate_config(config_path)
            specs = load_all(scenario_names(config, config_path.parent))
            runs_dir = out / "runs" / default_runs_dir().name
            if stored_baseline or update_baseline or (config.mode == "stored" and not reference):
                outcomes, comparison = against_stored(
                    specs, config, config_path.parent / config.baseline, runs_dir,
                    update=update_baseline, force=force,
                )  # fmt: skip
            else:
                outcomes, comparison = _against_reference(
                    specs, config, reference or config.reference, runs_dir, out
                )
        except COMPARE_ERRORS as exc:
            fail(exc)
    suites = []
    for index, outcome in enumerate(outcomes, start=1):
        name = f"{outcome.run.name} (run {index})"
        if outcome.verdict != "pass":  # the summary page shows what went wrong, and the comparison
            publish_run(name, outcome.results, outcome.reports.markdown)
        suites.append(suite_of_checks(name, outcome.results))
    if comparison is not None:
        code = write_comparison(comparison, out, junit=junit, run_suites=suites)
    else:
        code = EXIT_PASS
        if junit:
            write_junit(junit, suites)
    sys.exit(gate_exit_code([o.verdict for o in outcomes], code))


def gate_exit_code(verdicts: list[str], comparison_code: int) -> int:
    """Undecided runs (3), then failed SLOs (1), then the comparison (2 on a regression); an
    undecided comparison (too few runs) is reported, not failed."""
    if "unknown" in verdicts:
        errors.print("[bold red]a run could not be judged[/]; see the runs' reports")
        return EXIT_HARNESS_ERROR
    if "fail" in verdicts:
        errors.print("[bold red]an SLO check failed[/]; see the runs' reports")
        return EXIT_SLO_FAILED
    return EXIT_REGRESSION if comparison_code == EXIT_REGRESSION else EXIT_PASS


def _against_reference(
    specs: list[ScenarioSpec], config: GateConfig, reference: str, runs_dir: Path, out: Path
) -> tuple[list[RunOutcome], Comparison]:
    """Interleaved runs of ``reference``'s gateway and this checkout's, then the comparison."""
    say(f"baseline: the gateway of {reference}, run interleaved with this checkout's")
    with worktree(reference, out / "baseline-src") as baseline:
        sides = run_interleaved(
            specs,
            baseline_and_candidate(baseline, checkout_root(Path.cwd())),
            out=runs_dir,
            runs=config.runs,
            say=say,
        )
    comparison = compare(
        load_result_set(sides["baseline"].folder),
        load_result_set(sides["candidate"].folder),
        alpha=config.alpha,
        min_effect=config.min_effect,
    )
    return sides["candidate"].outcomes, comparison


def against_stored(
    specs: list[ScenarioSpec],
    config: GateConfig,
    baseline_path: Path,
    runs_dir: Path,
    *,
    update: bool,
    force: bool,
) -> tuple[list[RunOutcome], Comparison | None]:
    """The suite on one stack per scenario, its testbed checked first; then the comparison
    with the stored baseline, or (``update``) the new baseline stored."""
    baseline: ResultSet | None = None if update else read_baseline(baseline_path)
    outcomes = []
    for spec in specs:
        with scenario_stack(spec, RunOptions(runs_dir / "stacks" / spec.name)) as stack:
            if baseline is not None and stack is not None and not force:
                services = {name: info.version for name, info in stack.services.items()}
                images = {name: asdict(image) for name, image in stack.images.items()}
                here = make_testbed(testbed(), services, backend=stack.backend, images=images)
                require_same_testbed(baseline.testbed, here)
            for index in range(config.runs):
                say(f"run {index + 1}/{config.runs}: {spec.name}")
                options = RunOptions(runs_dir / f"{index:02d}" / spec.name)
                outcomes.append(run_on_stack(spec, options, stack))
                say(f"  {outcomes[-1].verdict}")
    current = load_result_set(runs_dir)
    if baseline is not None:
        return outcomes, compare(
            baseline, current, alpha=config.alpha, min_effect=config.min_effect, force=force
        )
    if {o.verdict for o in outcomes} == {"pass"}:
        write_baseline(current, baseline_path)
        console.print(f"baseline stored: {escape(str(baseline_path))}; commit it")
    else:
        errors.print("not stored: a baseline is made of runs that all passed")
    return outcomes, None
