"""``meltproof demo``: the case study's before/after table, measured on this machine.

Runs the built-in ``monday_peak`` scenario twice, on the ``naive`` and on the ``hardened``
gateway profile, then writes the table side by side (``demo.md``, ``demo.json``,
``demo.html``) next to both runs' full reports. Exit status: 0 every target met, 1 a target
missed, 3 harness error.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from rich.markup import escape

from .console import EXIT_HARNESS_ERROR, console, errors
from .demo import Row, table
from .demo_render import document, markdown, page
from .interrupts import interrupt_on_signals
from .loader import load_scenario, resolve
from .run_command import EXIT_PASS, EXIT_SLO_FAILED, default_runs_dir, run_with_progress
from .runner import HARNESS_ERRORS, RunOptions, SteadyStateError
from .schema import ScenarioSpec, SuiteError


PROFILES = ("naive", "hardened")
TITLE = "monday_peak: naive vs hardened gateway"


@click.command()
@click.option(
    "--scenario",
    default="monday_peak",
    show_default=True,
    help="The scenario to run on both profiles (a built-in name or a file).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for both runs and the table.  [default: .meltproof/runs/<time>]",
)
def demo(scenario: str, out: Path | None) -> None:
    """Reproduce the case study: the same peak on the naive and the hardened gateway.

    Prints and writes P95, P99, error rate, token spend, cache hit rate, upstream calls
    against the oracle minimum and queue backlog for both, with the ratios and the targets.
    """
    interrupt_on_signals()
    started = time.monotonic()
    out_dir = out or default_runs_dir()
    try:
        spec = _the_scenario(scenario)
        runs = {
            profile: run_with_progress(spec, RunOptions(out_dir / profile, profile=profile))
            for profile in PROFILES
        }
    except SteadyStateError as exc:
        errors.print(f"[bold red]steady state failed:[/] {escape(str(exc))}")
        sys.exit(EXIT_SLO_FAILED)
    except HARNESS_ERRORS as exc:
        errors.print(f"[bold red]harness error:[/] {type(exc).__name__}: {escape(str(exc))}")
        sys.exit(EXIT_HARNESS_ERROR)
    for profile, outcome in runs.items():
        console.print(f"{profile}: the scenario's own checks say [bold]{outcome.verdict}[/]")
    rows = table(runs["naive"].run, runs["hardened"].run)
    elapsed_s = time.monotonic() - started
    notes = [
        f"{spec.description.strip()}",
        (
            f"Each profile ran {spec.duration_s:g} s of the same seeded schedule "
            f"({len(runs['naive'].run.table):,} requests); the demo took {elapsed_s:.0f} s."
        ),
        (
            "Token spend and upstream calls are the simulated provider's ground truth; the "
            "oracle minimum is the number of distinct requests a perfect cache sends upstream."
        ),
    ]
    links = {p: f"{p}/run/report.html" for p in PROFILES}
    facts = {"scenario": spec.name, "elapsed_s": elapsed_s, "runs": {
        p: str(runs[p].run.path) for p in PROFILES}}  # fmt: skip
    (out_dir / "demo.md").write_text(markdown(rows, title=TITLE, notes=notes), encoding="utf-8")
    (out_dir / "demo.html").write_text(
        page(rows, title=TITLE, notes=notes, links=links), encoding="utf-8"
    )
    (out_dir / "demo.json").write_text(
        json.dumps(document(rows, **facts), indent=1) + "\n", encoding="utf-8"
    )
    console.print(markdown(rows, title=TITLE, notes=notes), markup=False)
    console.print(f"table: {escape(str(out_dir / 'demo.html'))}")
    sys.exit(_exit_code(rows))


def _the_scenario(name: str) -> ScenarioSpec:
    paths = resolve(name)
    if len(paths) != 1:
        raise SuiteError(f"{name}: the demo runs one scenario, not a suite")
    return load_scenario(paths[0])


def _exit_code(rows: list[Row]) -> int:
    if any(r.met is None for r in rows):
        return EXIT_HARNESS_ERROR
    return EXIT_PASS if all(r.met for r in rows) else EXIT_SLO_FAILED
