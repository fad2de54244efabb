"""``meltproof calibrate``: the gate's false-alarm and detection rates on this machine."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from ..compare.calibration import calibrate, markdown, write
from ..compare.gate import load_gate_config, scenario_names
from ..console import console
from ..git import checkout_root
from .compare_command import COMPARE_ERRORS, fail, interruptible, say
from .gate_command import gate_config_option
from .run_command import default_runs_dir, load_one


@click.command(name="calibrate")
@gate_config_option("The gate whose rules (runs per side, alpha, minimum effect) are calibrated.")
@click.option(
    "--scenario",
    help="The yardstick.  [default: the gate's first scenario]",
)
@click.option(
    "--rounds",
    type=click.IntRange(1, 200),
    default=20,
    show_default=True,
    help="Rounds; each gives one A/A and one A/B comparison.",
)
@click.option(
    "--regression",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.10,
    show_default=True,
    help="The injected regression, as a share of the pilot run's p95.",
)
@click.option(
    "--duration-s",
    type=click.FloatRange(1),
    help="Shorten (or lengthen) the yardstick's load to this many seconds.",
)
@click.option(
    "--no-steady-state",
    is_flag=True,
    help="Skip the yardstick's steady-state probes (they take time and decide nothing here).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the rounds' runs and calibration.md/.json go.  [default: .meltproof/runs/<time>]",
)
def calibrate_command(
    config_path: Path,
    scenario: str | None,
    rounds: int,
    regression: float,
    duration_s: float | None,
    no_steady_state: bool,
    out: Path | None,
) -> None:
    """Measure how often the gate cries wolf (A/A) and how often it catches a regression of a
    known size (A/B: the provider link slowed by a share of the p95), with the gate's rules,
    on this machine's gateway code. Writes calibration.md and calibration.json.
    """
    out = out or default_runs_dir()
    with interruptible():
        try:
            config = load_gate_config(config_path)
            spec = load_one(scenario or scenario_names(config, config_path.parent)[0])
            update: dict[str, object] = {}
            if duration_s:
                update["duration_s"] = duration_s
            if no_steady_state:
                update["steady_state"] = spec.steady_state.model_copy(update={"enabled": False})
            found = calibrate(
                spec.model_copy(update=update),
                out=out,
                rounds=rounds,
                runs=config.runs,
                alpha=config.alpha,
                min_effect=config.min_effect,
                regression=regression,
                source=checkout_root(Path.cwd()),
                say=say,
            )
        except COMPARE_ERRORS as exc:
            fail(exc)
    paths = write(found, out)
    console.print(markdown(found), markup=False)
    console.print(f"calibration: {escape(str(paths[0]))}")
