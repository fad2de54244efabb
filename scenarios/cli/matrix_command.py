"""``meltproof matrix``: every fault scenario against every target, side by side.

Runs are made one after another, scenario by scenario, each against every target in turn,
and each on a stack of its own. The matrix is written when the last cell is done, and also
when the matrix stops early (Ctrl-C, SIGTERM): the finished cells are kept.

Exit codes: 0 every cell passed or was n/a; 1 a cell failed; 3 no cell failed, but one stayed
undecided or the harness failed on it; 130 interrupted.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import product
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from benchmarks.history import testbed

from ..ci_output import annotate, append_step_summary, write_junit
from ..console import EXIT_HARNESS_ERROR, console
from ..engine_options import engine_of, engine_options
from ..load_engines import LoadEngine
from ..loader import builtin_names
from ..matrix import Cell, Column, build_document, cell_of_outcome
from ..matrix_render import cell_line, cell_name, junit_suites, markdown, page, title
from ..runner import HARNESS_ERRORS, RunOptions, SteadyStateError
from ..schema import ScenarioSpec, SuiteError, UnfitTargetError
from ..target_option import DEFAULT_MATRIX, label_of, with_target
from .compare_command import fail, interruptible
from .run_command import EXIT_PASS, EXIT_SLO_FAILED, default_runs_dir, load_all, run_with_progress


EXIT_CODES = {"pass": EXIT_PASS, "fail": EXIT_SLO_FAILED}
"""By the matrix's verdict; ``unknown`` is a harness error (3)."""


@click.command(name="matrix")
@click.argument("scenarios", nargs=-1)
@click.option(
    "--targets",
    default=DEFAULT_MATRIX,
    show_default=True,
    metavar="TARGET,...",
    help=(
        "The columns, comma-separated: naive, hardened (our gateway), litellm, portkey "
        "(built-in peers) or YAML files with a scenario's target mapping (a column each, "
        "named by the file's stem)."
    ),
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of the runs (OUT/<target>/<scenario>/) and the matrix.  "
    "[default: .meltproof/runs/<time>]",
)
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the matrix as JUnit XML to FILE: a testsuite per target, a testcase per "
    "scenario (n/a: skipped).",
)
@engine_options
def matrix_command(
    scenarios: tuple[str, ...],
    targets: str,
    out: Path | None,
    junit: Path | None,
    locust_workers: int | None,
    remote_workers: int,
    master_host: str,
    master_port: int | None,
) -> None:
    """Run fault scenarios against several gateways and tabulate how each one held up.

    SCENARIOS are scenario files, suite folders or built-in names (default: every built-in
    scenario: the fault suites, the noisy tenant, the Monday peak and steady_chat, the
    fault-free control). Each runs against every target of --targets, one full run per
    cell, written to OUT/<target>/<scenario>/ with its report. matrix.md, matrix.html and
    matrix.json in OUT have a row per scenario and a column per target; each cell holds the
    verdict of the scenario's checks, p95 latency during the faults, error rate, provider
    calls per client request and cost per request, and links the run's report. They also
    record each target's version, the machine and its load average, and this command line.

    A cell that cannot run says why ("n/a: ..."): the scenario needs what the target lacks,
    such as a fault on a link it does not use. A harness error is written in its cell
    ("error: ...") and the matrix goes on. Ctrl-C stops the running cell cleanly (faults
    healed, stack stopped) and writes the cells that finished. On GitHub Actions the matrix
    goes to the step summary, and failed cells are annotated.

    A run takes its scenario's duration plus about 15 s (stack, steady-state probes); the
    default matrix (every built-in scenario on 4 targets) about 40 minutes.

    \b
    Examples:
      meltproof matrix
      meltproof matrix redis_outage provider_429_storm --targets naive,hardened
      meltproof matrix --targets hardened,litellm,my-gateway.yaml --junit matrix.xml

    \b
    Exit status:
      0    every cell passed or was n/a
      1    a cell failed (a check, or steady state before the faults)
      3    no cell failed, but one stayed undecided or the harness failed
      130  interrupted
    """
    out = out or default_runs_dir()
    engine = engine_of(locust_workers, remote_workers, master_host, master_port)
    with interruptible():
        try:
            columns = _columns(targets)
            specs = _scenarios(scenarios)
            _check_targets(specs[0], columns)
            _check_fresh(out, specs, columns)
        except SuiteError as exc:
            fail(exc)
        sys.exit(_run_matrix(specs, columns, RunPlace(out, engine), junit))


def _columns(value: str) -> list[Column]:
    """The columns ``--targets`` names; ``SuiteError`` for none, or a column named twice."""
    values = [part.strip() for part in value.split(",") if part.strip()]
    if not values:
        raise SuiteError("--targets: name at least one target")
    columns = [Column(label_of(v), v) for v in values]
    labels = [column.label for column in columns]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise SuiteError(
            f"--targets: more than one target named {', '.join(repeated)} (a column is named "
            "by the target, or the file's stem)"
        )
    return columns


def _scenarios(names: Sequence[str]) -> list[ScenarioSpec]:
    """The scenarios named, or every built-in one."""
    if names:
        return load_all(names)
    return load_all(builtin_names())


def _check_targets(spec: ScenarioSpec, columns: Sequence[Column]) -> None:
    """``SuiteError`` for a target that fits no scenario (a missing or invalid file), before
    anything runs: tried on ``spec`` without its faults, whose links may not fit a target."""
    faultless = spec.model_copy(update={"faults": []})
    for column in columns:
        with_target(faultless, column.value)


def _check_fresh(out: Path, specs: Sequence[ScenarioSpec], columns: Sequence[Column]) -> None:
    """``SuiteError`` if a cell's folder exists: runs are never overwritten."""
    for spec, column in product(specs, columns):
        if (out / column.label / spec.name).exists():
            raise SuiteError(
                f"{out / column.label / spec.name} exists; runs are never overwritten: give "
                "another --out"
            )


@dataclass(frozen=True)
class RunPlace:
    """Where the cells' runs go, and what sends their load."""

    out: Path
    engine: LoadEngine


def _run_matrix(
    specs: Sequence[ScenarioSpec], columns: Sequence[Column], place: RunPlace, junit: Path | None
) -> int:
    """Run every cell, scenario by scenario; write the matrix (also when interrupted)."""
    out = place.out
    started_at, started = time.time(), time.monotonic()
    load_start = os.getloadavg()
    cells: dict[tuple[str, str], Cell] = {}
    total = len(specs) * len(columns)
    try:
        for index, (spec, column) in enumerate(product(specs, columns), start=1):
            where = f"[{index}/{total}] {cell_name(column.label, spec.name)}"
            console.rule(escape(where))
            cell = cells[spec.name, column.label] = _run_cell(spec, column, place)
            console.print(f"[bold]{escape(where)}[/]: {escape(cell_line(cell.to_dict()))}")
    finally:
        document = build_document(
            [spec.name for spec in specs],
            columns,
            cells,
            command=shlex.join(["meltproof", *sys.argv[1:]]),
            testbed={
                **testbed(),
                "load_average": {"start": load_start, "end": os.getloadavg()},
            },
            started_at=started_at,
            elapsed_s=time.monotonic() - started,
        )
        _write(document, out, junit)
    return EXIT_CODES.get(document["verdict"], EXIT_HARNESS_ERROR)


def _run_cell(spec: ScenarioSpec, column: Column, place: RunPlace) -> Cell:
    """Run ``spec`` against the column's target: its cell, whatever happens but an interrupt."""
    started = time.monotonic()
    options = RunOptions(place.out / column.label / spec.name, engine=place.engine)
    try:
        outcome = run_with_progress(with_target(spec, column.value), options)
    except UnfitTargetError as exc:
        cell = Cell("n/a", str(exc))
    except SteadyStateError as exc:
        cell = Cell("fail", f"steady state failed before the faults: {exc}")
    except HARNESS_ERRORS as exc:
        cell = Cell("error", f"{type(exc).__name__}: {exc}")
    else:
        cell = cell_of_outcome(outcome, place.out)
    return replace(cell, elapsed_s=time.monotonic() - started)


def _write(document: Mapping[str, Any], out: Path, junit: Path | None) -> None:
    """matrix.md, .html and .json into ``out``; the JUnit file; on GitHub Actions the step
    summary and an annotation per failed or errored cell."""
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(document)
    (out / "matrix.md").write_text(text, encoding="utf-8")
    (out / "matrix.html").write_text(page(document), encoding="utf-8")
    (out / "matrix.json").write_text(
        json.dumps(document, indent=1, allow_nan=False) + "\n", encoding="utf-8"
    )
    if junit is not None:
        write_junit(junit, junit_suites(document))
    append_step_summary(text)
    for row in document["rows"]:
        for label, cell in row["cells"].items():
            if cell is not None and cell["status"] in ("fail", "error"):
                annotate("error", cell_name(label, row["scenario"]), cell_line(cell))
    statuses = Counter(
        cell["status"] for row in document["rows"] for cell in row["cells"].values() if cell
    )
    counts = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
    console.rule()
    console.print(f"[bold]{escape(title(document))}[/] ({escape(counts or 'no cell ran')})")
    console.print(f"matrix: {escape(str(out / 'matrix.html'))}")
