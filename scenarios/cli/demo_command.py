"""``meltproof demo``: the case study's before/after table, measured on this machine.

Runs the built-in ``monday_peak`` scenario once per target (by default our gateway's ``naive``
and ``hardened`` profiles; a built-in peer or a YAML target file too), each into
``OUT/<label>/``, then writes the table with a column per target (``demo.md``,
``demo.json``, ``demo.html``) next to every run's full report. A target that cannot run keeps
its column, marked with the reason.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import click
from rich.markup import escape

from ..console import EXIT_HARNESS_ERROR, console, errors
from ..demo import Column, Verdict, table, verdict
from ..demo_render import document, markdown, page
from ..interrupts import interrupt_on_signals
from ..loader import load_scenario, resolve
from ..runner import HARNESS_ERRORS, RunOptions, SteadyStateError
from ..schema import ScenarioSpec, SuiteError
from ..target_option import BUILT_IN, label_of, with_target
from .run_command import EXIT_PASS, EXIT_SLO_FAILED, default_runs_dir, run_with_progress


DEFAULT_TARGETS = "naive,hardened"
EXIT_CODES: dict[Verdict, int] = {
    "met": EXIT_PASS,
    "missed": EXIT_SLO_FAILED,
    "undecided": EXIT_HARNESS_ERROR,
}


def _split_targets(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
    targets = tuple(part.strip() for part in value.split(",") if part.strip())
    if len(targets) < 2:  # noqa: PLR2004 - a baseline and one target to compare with it
        raise click.BadParameter("give the baseline and at least one target, e.g. naive,hardened")
    labels = [label_of(t) for t in targets]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise click.BadParameter(f"each column needs its own name; repeated: {', '.join(repeated)}")
    return targets


@click.command()
@click.option(
    "--scenario",
    default="monday_peak",
    show_default=True,
    help="The scenario to run on every target (a built-in name or a file).",
)
@click.option(
    "--targets",
    default=DEFAULT_TARGETS,
    show_default=True,
    metavar="BASELINE,TARGET,...",
    callback=_split_targets,
    help=(
        f"Comma-separated targets, a column each; the first is the baseline ('before'). Each is "
        f"one of {', '.join(BUILT_IN)} or a YAML file with a scenario's target mapping "
        "(its column is named after the file)."
    ),
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the runs (OUT/<label>/) and the table.  [default: .meltproof/runs/<time>]",
)
def demo(scenario: str, targets: tuple[str, ...], out: Path | None) -> None:
    """Reproduce the case study: the same peak on every target, the first the baseline.

    Prints and writes P95, P99, error rate, token spend, cache hit rate, upstream calls
    against the oracle minimum and queue backlog for each target, with each other target's
    change against the baseline and whether it meets the case study's target.

    Exit status, judged on every target after the baseline: 0 each meets all of the case
    study's targets; 1 one missed one of them or failed its steady state; 3 harness error: a
    target could not run, or a figure could not be decided (a baseline that did not run
    leaves every comparison undecided). 3 wins over 1.
    """
    interrupt_on_signals()
    started = time.monotonic()
    out_dir = out or default_runs_dir()
    try:
        spec = _the_scenario(scenario)
        specs = {label_of(t): with_target(spec, t) for t in targets}
    except SuiteError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        sys.exit(EXIT_HARNESS_ERROR)
    columns = [_run_column(label, target, out_dir) for label, target in specs.items()]
    sys.exit(_write_table(spec, columns, out_dir, elapsed_s=time.monotonic() - started))


def _the_scenario(name: str) -> ScenarioSpec:
    paths = resolve(name)
    if len(paths) != 1:
        raise SuiteError(f"{name}: the demo runs one scenario, not a suite")
    return load_scenario(paths[0])


def _run_column(label: str, spec: ScenarioSpec, out_dir: Path) -> Column:
    """Run ``spec`` into ``out_dir/label``; a failed steady state or a harness error becomes
    the column's reason instead of stopping the demo."""
    console.rule(f"[bold]{escape(label)}[/]")
    try:
        outcome = run_with_progress(spec, RunOptions(out_dir / label))
    except SteadyStateError as exc:
        errors.print(f"[bold red]{escape(label)}: steady state failed:[/] {escape(str(exc))}")
        return Column(label, stop="steady state failed", reason=str(exc))
    except HARNESS_ERRORS as exc:
        reason = f"{type(exc).__name__}: {exc}"
        errors.print(f"[bold red]{escape(label)}: harness error:[/] {escape(reason)}")
        return Column(label, stop="harness error", reason=reason)
    console.print(f"{escape(label)}: the scenario's own checks say [bold]{outcome.verdict}[/]")
    return Column(label, run=outcome.run)


def _write_table(
    spec: ScenarioSpec, columns: Sequence[Column], out_dir: Path, *, elapsed_s: float
) -> int:
    """Print the table, write demo.md, demo.html and demo.json; the exit status."""
    rows = table(columns)
    title = f"{spec.name}: {' vs '.join(c.label for c in columns)}"
    ran = [c.run for c in columns if c.run is not None]
    requests = f" ({len(ran[0].table):,} requests)" if ran else ""
    notes = [
        spec.description.strip(),
        (
            f"Each target ran {spec.duration_s:g} s of the same seeded schedule{requests}; "
            f"the demo took {elapsed_s:.0f} s."
        ),
        (
            "Token spend and upstream calls are the simulated provider's ground truth; the "
            "oracle minimum is the number of distinct requests a perfect cache sends upstream."
        ),
    ]
    links = {c.label: f"{c.label}/run/report.html" for c in columns if c.run is not None}
    text = markdown(columns, rows, title=title, notes=notes, links=links)
    facts = {"scenario": spec.name, "elapsed_s": elapsed_s}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "demo.md").write_text(text, encoding="utf-8")
    (out_dir / "demo.html").write_text(
        page(columns, rows, title=title, notes=notes, links=links), encoding="utf-8"
    )
    (out_dir / "demo.json").write_text(
        json.dumps(document(columns, rows, **facts), indent=1) + "\n", encoding="utf-8"
    )
    console.print(text, markup=False)
    console.print(f"table: {escape(str(out_dir / 'demo.html'))}")
    return EXIT_CODES[verdict(rows)]
