"""``meltproof canary SCENARIO --flag F --to VARIANT``: shift traffic in steps, decide.

Exit codes: 0 the canary was promoted (the flag now serves it to everyone); 1 it was rolled
back (the flag is as it was); 3 harness error (a bad scenario or flag, a stack that would not
start). The step table is printed and written as ``canary.json`` and ``canary.md``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.markup import escape

from ..canary import CanaryError, CanaryOptions, canary_json, canary_markdown, run_canary
from ..canary.flow import DEFAULT_STEPS, check_steps
from ..console import EXIT_HARNESS_ERROR, console, errors
from ..loader import load_scenario, resolve
from ..runner import HARNESS_ERRORS
from ..schema import ScenarioSpec
from .run_command import default_runs_dir


EXIT_PROMOTED = 0
EXIT_ROLLED_BACK = 1
STOPPING: tuple[type[BaseException], ...] = (CanaryError, *HARNESS_ERRORS)
"""What stops a canary without a decision (exit status 3)."""


def _steps(text: str) -> tuple[int, ...]:
    try:
        return check_steps(tuple(int(part) for part in text.split(",")))
    except (ValueError, CanaryError) as exc:
        raise click.BadParameter(str(exc)) from None


def _scenario(name: str) -> ScenarioSpec:
    paths = resolve(name)
    if len(paths) != 1:
        raise CanaryError(f"{name} names {len(paths)} scenarios; a canary runs one")
    return load_scenario(paths[0])


@click.command()
@click.argument("scenario_name", metavar="SCENARIO")
@click.option("--flag", "flag", required=True, help="The flag to shift (its key in the file).")
@click.option("--to", "to", required=True, help="The variant to shift traffic to.")
@click.option(
    "--steps",
    default=",".join(map(str, DEFAULT_STEPS)),
    show_default=True,
    help="Percentages sent to the canary, one step each, ending at 100.",
)
@click.option(
    "--step-s", type=click.FloatRange(min=1.0), default=10.0, show_default=True,
    help="How long each step's load runs.",
)  # fmt: skip
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.01,
              show_default=True, help="Significance level of a worse canary.")  # fmt: skip
@click.option(
    "--min-effect", type=click.FloatRange(min=0.0), default=0.2, show_default=True,
    help="Smallest relative change of a median that counts as worse.",
)  # fmt: skip
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Results folder.")
def canary(
    scenario_name: str,
    flag: str,
    to: str,
    steps: str,
    step_s: float,
    alpha: float,
    min_effect: float,
    out: Path | None,
) -> None:
    """Canary of a flag's variant with SCENARIO's workload: promote or roll back."""
    out_dir = out or default_runs_dir() / "canary"
    try:
        spec = _scenario(scenario_name)
        options = CanaryOptions(
            out_dir=out_dir,
            flag=flag,
            to=to,
            steps=_steps(steps),
            step_s=step_s,
            alpha=alpha,
            min_effect=min_effect,
        )
        report = run_canary(spec, options, say=lambda line: console.print(escape(line)))
    except STOPPING as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        sys.exit(EXIT_HARNESS_ERROR)
    document = canary_json(report)
    markdown = canary_markdown(document)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "canary.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    (out_dir / "canary.md").write_text(markdown, encoding="utf-8")
    console.out(markdown)
    console.print(f"step table: {escape(str(out_dir / 'canary.md'))}")
    sys.exit(EXIT_PROMOTED if report.decision == "promote" else EXIT_ROLLED_BACK)
