"""``meltproof load``: open-loop load at any OpenAI-compatible URL, with progress and thresholds."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import click
from click.core import ParameterSource
from rich.markup import escape

from benchmarks.arrivals import Arrivals, Constant, Process, Ramp
from benchmarks.endpoints import ENDPOINTS
from benchmarks.event_loop import run_with_fast_loop
from benchmarks.history import write_history
from benchmarks.plan import LoadPlan, LoadResult
from benchmarks.popularity import PromptCatalogue
from benchmarks.processes import GeneratorProcessError
from benchmarks.replay import Replay
from benchmarks.replay_trace import TraceError
from benchmarks.runner import run_load
from benchmarks.summary_table import print_summary
from benchmarks.target import Target
from benchmarks.workload import EndpointShare, FanOut, TenantShare, Workload

from ..console import EXIT_HARNESS_ERROR, console, errors
from ..interrupts import interrupt_on_signals
from ..progress import LoadProgress
from ..thresholds import Threshold, ThresholdResult, evaluate, figure, parse_threshold


EXIT_THRESHOLD_FAILED = 1
Weights = tuple[tuple[str, float], ...]


def _weights(_ctx: click.Context, param: click.Parameter, value: str) -> Weights:
    """Parse ``name=weight,name=weight`` (a bare ``name`` weighs 1)."""
    pairs: list[tuple[str, float]] = []
    for item in value.split(","):
        name, _, weight = (part.strip() for part in item.partition("="))
        if not name:
            raise click.BadParameter(f"{item!r}: a name is missing before '='", param=param)
        try:
            pairs.append((name, float(weight) if weight else 1.0))
        except ValueError:
            raise click.BadParameter(
                f"{item!r}: the weight after '=' must be a number", param=param
            ) from None
    return tuple(pairs)


def _thresholds(
    _ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[Threshold, ...]:
    """Parse each ``--threshold`` now, so that a mistake costs no load."""
    thresholds = []
    for expression in value:
        try:
            thresholds.append(parse_threshold(expression))
        except ValueError as exc:
            raise click.BadParameter(f"{expression!r}: {exc}", param=param) from None
    return tuple(thresholds)


def tenant_api_key(tenant: str, environ: Mapping[str, str]) -> str | None:
    """``MELTPROOF_API_KEY_<TENANT>``: the tenant's name upper-cased, other characters as _."""
    suffix = re.sub(r"[^A-Z0-9]", "_", tenant.upper())
    return environ.get(f"MELTPROOF_API_KEY_{suffix}") or None


def _default_out() -> Path:
    """``.meltproof/runs/<UTC time>/load``, with a suffix if a run of that second exists."""
    base = Path(".meltproof") / "runs" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path, n = base / "load", 1
    while path.exists():
        n += 1
        path = base / f"load-{n}"
    return path


@click.command()
@click.option("--url", required=True, help="Base URL of the target, e.g. http://127.0.0.1:8080.")
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    help="Clicks per second; a click is one request, or --fanout parallel ones. With --replay "
    "of a batch file: its requests per second.  [required without --replay]",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds of load.  [required without --replay; with it, the whole file]",
)
@click.option(
    "--replay",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Replay a recorded workload instead of the synthetic mix: the gateway's access log "
    "(at its recorded times; synthetic prompts of the recorded sizes, repeated as recorded) or "
    "OpenAI batch-API input (its prompts as they are, at --rate).",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="With --replay of an access log: how many times faster than recorded.",
)
@click.option(
    "--ramp-to",
    type=click.FloatRange(min=0),
    help="Ramp linearly from --rate to this rate over the run.",
)
@click.option(
    "--arrivals",
    type=click.Choice(["poisson", "regular"]),
    default="poisson",
    show_default=True,
    help="Poisson arrivals (real traffic) or evenly spaced ones.",
)
@click.option(
    "--endpoints",
    callback=_weights,
    metavar="NAME=WEIGHT,...",
    default="chat",
    show_default=True,
    help=f"Request mix by weight; endpoints: {', '.join(ENDPOINTS)}.",
)
@click.option(
    "--tenants",
    callback=_weights,
    metavar="NAME=WEIGHT,...",
    default="default",
    help="Tenants by weight, e.g. 'acme=1,globex=1,noisy=10'. A tenant's own key comes from "
    "MELTPROOF_API_KEY_<TENANT> (e.g. MELTPROOF_API_KEY_NOISY), else --api-key.  "
    "[default: one tenant, 'default']",
)
@click.option("--model", default="gpt-4o-mini", show_default=True, help="Chat model requested.")
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="max_tokens of each chat request.",
)
@click.option(
    "--prompts",
    type=(click.IntRange(min=1), click.IntRange(min=1)),
    default=(20, 500),
    show_default=True,
    metavar="TEMPLATES ENTITIES",
    help="Size of the prompt catalogue.",
)
@click.option(
    "--skew",
    type=click.FloatRange(min=0),
    default=1.1,
    show_default=True,
    help="Zipf exponent of prompt popularity; 0 is uniform, higher repeats more.",
)
@click.option(
    "--fanout",
    type=(click.IntRange(min=1), click.IntRange(min=1)),
    default=(1, 1),
    show_default=True,
    metavar="MIN MAX",
    help="Parallel requests per click.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same schedule.")
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Generator processes; one sustains a few thousand requests/s.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, max=3600, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds before the client gives up; such requests count as unknown, not failed.",
)
@click.option(
    "--api-key", envvar="MELTPROOF_API_KEY", help="Bearer token.  [env: MELTPROOF_API_KEY]"
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="History directory to write.  [default: .meltproof/runs/<UTC time>/load]",
)
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    callback=_thresholds,
    metavar="EXPR",
    help="Pass/fail criterion, k6-style, repeatable: METRIC OP VALUE, e.g. 'p99<500ms', "
    "'error_rate<1%', 'rps>=95'. OP: <, <=, >, >=. Latency (from the intended send time, in "
    "ms or s): p50, p90, p95, p99, p99.9, max, mean. Rates (a percentage or a fraction): "
    "error_rate (failed among ended requests), unknown_rate (client gave up, among ended). "
    "rps: achieved requests per second. A figure the run lacks fails.",
)
def load(
    url: str,
    rate: float | None,
    duration: float | None,
    replay: Path | None,
    speed: float,
    ramp_to: float | None,
    arrivals: str,
    endpoints: Weights,
    tenants: Weights,
    model: str,
    max_tokens: int,
    prompts: tuple[int, int],
    skew: float,
    fanout: tuple[int, int],
    seed: int,
    processes: int,
    timeout: float,
    api_key: str | None,
    out: Path | None,
    thresholds: tuple[Threshold, ...],
) -> None:
    """Send open-loop load to URL and write the run's history.

    Requests leave on a seeded schedule whether or not earlier ones were answered, and latency
    counts from when each request was due, so a stalling target shows in the percentiles.
    With --replay they are a recorded workload's: the gateway's access log at its own times
    (synthetic prompts that repeat as the recorded ones did), or batch-API input at --rate.

    Progress shows live in a terminal, and in a log (no terminal) as a line every few seconds:
    MELTPROOF_PROGRESS_INTERVAL_S of them, 5 by default.

    Exit status: 0 every --threshold held (or none was given); 1 a threshold failed; 2 a usage
    error, before any load is sent; 3 harness error: the generator fell behind the schedule or
    a generator process failed. 3 wins over 1, since such a run says nothing sure about the
    target.
    """
    for name, _ in endpoints:
        if name not in ENDPOINTS:
            raise click.BadParameter(
                f"unknown endpoint {name!r}; known: {', '.join(ENDPOINTS)}",
                param_hint="--endpoints",
            )
    process: Process = "poisson" if arrivals == "poisson" else "regular"
    try:
        if replay is not None:
            workload, duration = _replay_workload(replay, speed, rate, duration, process, seed)
        elif rate is None or duration is None:
            raise click.UsageError("give --rate and --duration (or --replay FILE)")
        else:
            shape = Constant(rate) if ramp_to is None else Ramp(rate, ramp_to, duration)
            workload = Workload(
                arrivals=Arrivals(shape, process),
                tenants=tuple(
                    TenantShare(name, weight, tenant_api_key(name, os.environ))
                    for name, weight in tenants
                ),
                endpoints=tuple(EndpointShare(name, weight) for name, weight in endpoints),
                prompts=PromptCatalogue(templates=prompts[0], entities=prompts[1], skew=skew),
                fanout=FanOut(*fanout),
                model=model,
                max_tokens=max_tokens,
                seed=seed,
            )
        plan = LoadPlan(
            workload, duration, Target(url, timeout_s=timeout, api_key=api_key), processes
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    path = out or _default_out()
    if path.exists():
        raise click.BadParameter(
            f"{path} exists; histories are never overwritten", param_hint="--out"
        )
    interrupt_on_signals()
    result = _run_with_progress(plan)
    history = write_history(result, path)
    print_summary(console, history.summary)
    checked = evaluate(thresholds, history.summary)
    _print_thresholds(checked)
    console.print(f"history: {escape(str(path))}")
    if history.summary.ok == 0:
        errors.print("[yellow]warning:[/] no request succeeded; check --url and --api-key")
    if (shortfall := result.shortfall()) is not None:
        errors.print(f"[bold red]error:[/] {escape(shortfall)}")
        sys.exit(EXIT_HARNESS_ERROR)
    if not all(r.passed for r in checked):
        sys.exit(EXIT_THRESHOLD_FAILED)


_SYNTHETIC_OPTIONS = ("ramp_to", "endpoints", "tenants", "model", "max_tokens", "prompts", "skew",
                      "fanout")  # fmt: skip


def _replay_workload(
    path: Path,
    speed: float,
    rate: float | None,
    duration: float | None,
    process: Process,
    seed: int,
) -> tuple[Workload, float]:
    """The workload of ``--replay`` and its duration (by default, the whole file)."""
    context = click.get_current_context()
    given = [
        f"--{name.replace('_', '-')}"
        for name in _SYNTHETIC_OPTIONS
        if context.get_parameter_source(name) is not ParameterSource.DEFAULT
    ]
    if given:
        raise click.UsageError(f"{', '.join(given)} cannot go with --replay: the file gives them")
    replay = Replay(str(path), speed)
    try:
        trace = replay.trace()
    except TraceError as exc:
        raise click.BadParameter(str(exc), param_hint="--replay") from None
    keys = {name: tenant_api_key(name, os.environ) for name in trace.tenants}
    if replay.timed:
        if rate is not None:
            raise click.UsageError(f"--rate cannot go with --replay of {path}, which has times")
        workload = Workload.replaying(replay, api_keys=keys, seed=seed)
        return workload, duration or replay.duration_s()
    if rate is None:
        raise click.UsageError(f"{path} has no arrival times: give --rate (requests per second)")
    arrivals = Arrivals(Constant(rate), process)
    workload = Workload.replaying(replay, api_keys=keys, arrivals=arrivals, seed=seed)
    return workload, duration or len(trace) / rate


def _run_with_progress(plan: LoadPlan) -> LoadResult:
    """Run ``plan``: a live line on a terminal, else a progress line every few seconds."""
    with LoadProgress(console, "load") as progress:
        try:
            return run_with_fast_loop(run_load(plan, progress=progress.show))
        except KeyboardInterrupt:
            errors.print("interrupted; nothing was written")
            sys.exit(130)
        except GeneratorProcessError as exc:
            errors.print(f"[bold red]error:[/] {escape(str(exc))}")
            sys.exit(EXIT_HARNESS_ERROR)


def _print_thresholds(results: Sequence[ThresholdResult]) -> None:
    """Each threshold with the observed figure and a mark: ✓ held, ✗ failed."""
    if not results:
        return
    console.print("thresholds:")
    width = max(len(r.threshold.expression) for r in results)
    for r in results:
        mark = "[green]✓[/]" if r.passed else "[bold red]✗[/]"
        observed = figure(r.threshold.kind, r.observed)
        console.print(
            f"  {mark} {escape(r.threshold.expression.ljust(width))}  observed {observed}"
        )
