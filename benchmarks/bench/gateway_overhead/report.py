"""The gateway overhead benchmark's report: its tables, figures, parameters and verdict."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stack.ports import LOOPBACK

from ..common import BenchReport, format_table, ms
from ..litellm_proxy import REQUIREMENT
from .evaluation import evaluate
from .gateway import gateway_args, gateway_config
from .parameters import (
    HIT_PROMPTS,
    LITELLM_WARMUP_RPS,
    MAX_TOKENS,
    MISS_PROMPTS,
    MODEL,
    WORKERS,
    OverheadParameters,
)
from .rounds import CPU_RATES_RPS, CpuRound, rounds_figures, rounds_table
from .steal import BURST_WINDOW_S
from .steps import (
    BASELINE_RATE_RPS,
    MACHINE_SATURATED_SHARE,
    MAX_ERROR_FRACTION,
    P99_LIMIT_FACTOR,
    PROCESSES,
    SATURATED_SHARE,
    STOLEN_BURST_LIMIT_S,
    STOLEN_SHARE_LIMIT,
    Step,
    TargetOutcome,
    stolen_cell,
)


STEP_HEADERS = [
    "target", "rate/s", "achieved/s", "p50 ms", "p99 ms", "Δp50 ms", "Δp99 ms", "errors",
    "CPU µs/req", "CPU s/s gen", "prov", "redis", "target", "Σ", "others", "stolen s", "ran out",
    "peak RSS MiB",
    "cache hits", "step",
]  # fmt: skip
TARGET_HEADERS = [
    "target", "capacity/s", *(f"CPU µs/req at {rate:,}/s" for rate in CPU_RATES_RPS),
    "generator limit/s", "peak RSS MiB", "note",
]  # fmt: skip


def _step_row(
    name: str, step: Step, direct: TargetOutcome, p99_limit_s: float, cores: int
) -> list[str]:
    reference = direct.step_at(step.rate_rps) if name != direct.name else None
    verdict = "pass" if step.passes(p99_limit_s) else "FAIL"
    busy = [step.busy(process) for process in PROCESSES]
    return [
        name,
        f"{step.rate_rps:,}",
        f"{step.achieved_rps:,.0f}",
        ms(step.p50_s),
        ms(step.p99_s),
        ms(step.p50_s - reference.p50_s) if reference else "-",
        ms(step.p99_s - reference.p99_s) if reference else "-",
        f"{step.errors:,}",
        f"{step.cpu_us_per_request():.0f}",
        *("-" if b is None else f"{b:.2f}" for b in busy),
        f"{sum(b for b in busy if b is not None):.2f}",
        "-" if (others := step.others_busy()) is None else f"{others:.2f}",
        stolen_cell(step) + (" !" if step.disturbed else ""),
        step.ran_out(cores) or "-",
        f"{step.peak_rss_bytes / 2**20:.0f}",
        "-" if (hits := step.cache_hit_fraction) is None else f"{hits:.0%}",
        verdict + (" (short)" if step.shortfall else ""),
    ]


def generator_limit_rps(outcome: TargetOutcome) -> float | None:
    """The rate at which the generator's CPU per request, at the target's highest measured
    rate, would fill one core: past it, the generator runs out before the target."""
    if not outcome.steps:
        return None
    per_request_us = outcome.steps[-1].cpu_us_per_request("generator")
    return None if not per_request_us else 1e6 / per_request_us


def _target_row(outcome: TargetOutcome, p99_limit_s: float) -> list[str]:
    best = outcome.capacity_rps(p99_limit_s)
    top = bool(outcome.steps) and all(s.passes(p99_limit_s) for s in outcome.final_steps())
    peak = max((s.peak_rss_bytes for s in outcome.steps), default=0)
    note = (
        f"could not run: {outcome.could_not_run.splitlines()[0]}" if outcome.could_not_run else ""
    )
    cpu = [outcome.step_at(rate) for rate in CPU_RATES_RPS]
    limit = generator_limit_rps(outcome)
    return [
        outcome.name,
        "-" if best is None else f"{best:,}" + ("+" if top else ""),
        *("-" if step is None else f"{step.cpu_us_per_request():.0f}" for step in cpu),
        "-" if limit is None else f"{limit:,.0f}",
        f"{peak / 2**20:.0f}" if peak else "-",
        note or ("passed every rate (capacity is at least the top rate)" if top else ""),
    ]


def report(
    parameters: OverheadParameters,
    outcomes: Mapping[str, TargetOutcome],
    rounds: Sequence[CpuRound],
    p99_limit_s: float,
    *,
    cores: int = 2,
) -> BenchReport:
    """The tables, the figures and the verdict; it passes when every check is met."""
    checks = evaluate(outcomes, rounds, p99_limit_s, cores=cores)
    direct = outcomes["direct"]
    met = sum(c.passed is True for c in checks)
    capacities = ", ".join(
        f"{o.name} {'-' if (c := o.capacity_rps(p99_limit_s)) is None else f'{c:,}'}"
        for o in outcomes.values()
    )
    verdict = f"{met} of {len(checks)} checks met; capacity/s: {capacities}"
    steps = format_table(
        STEP_HEADERS,
        [
            _step_row(o.name, s, direct, p99_limit_s, cores)
            for o in outcomes.values()
            for s in o.steps
        ],
        title=f"Steps (Δ: over direct at the same rate; a step passes with p99 < {ms(p99_limit_s)}"
        f" ms, errors < {MAX_ERROR_FRACTION:.0%}, on schedule; CPU s/s: CPU seconds per second"
        f" of the generator, the provider, Redis and the target, Σ of {cores} cores, others: the"
        " rest of the machine; stolen s: CPU seconds the hypervisor took from the machine's"
        f" cores (in brackets: the most within {BURST_WINDOW_S:g} s), '!' over"
        f" {STOLEN_SHARE_LIMIT:.0%} of a core or {STOLEN_BURST_LIMIT_S:g} s at once: a disturbed"
        " step, run once more and left out of the CPU ratios; ran out: a"
        f" process at {SATURATED_SHARE:.0%} of a core, or the machine at"
        f" {MACHINE_SATURATED_SHARE:.0%}"
        " of every core)",
    )
    targets = format_table(
        TARGET_HEADERS, [_target_row(o, p99_limit_s) for o in outcomes.values()], title="Targets"
    )
    return BenchReport(
        parameters=_parameters(parameters),
        figures={
            "p99_limit_s": p99_limit_s,
            "baseline_p99_s": p99_limit_s / P99_LIMIT_FACTOR,
            "cores": cores,
            "checks": [dataclasses.asdict(c) for c in checks],
            "targets": {
                o.name: {
                    "capacity_rps": o.capacity_rps(p99_limit_s),
                    "generator_limit_rps": generator_limit_rps(o),
                    "could_not_run": o.could_not_run,
                    "steps": [s.to_dict(p99_limit_s) for s in o.steps],
                }
                for o in outcomes.values()
            },
            "cpu_rounds": rounds_figures(rounds, p99_limit_s),
        },
        verdict=verdict,
        passed=all(c.passed is True for c in checks),
        tables=[
            steps,
            targets,
            rounds_table(rounds, p99_limit_s),
            "Checks\n" + "\n".join(c.line() for c in checks),
        ],
    )


def _parameters(parameters: OverheadParameters) -> dict[str, Any]:
    gateway = gateway_args(provider_url="PROVIDER", redis_url="REDIS", config=Path("CONFIG"))
    return {
        "ladders_rps": {t: list(parameters.ladder(t)) for t in ("direct", "others", "litellm")},
        "cpu_rounds": {
            "rounds": parameters.cpu_rounds,
            "rates_rps": list(CPU_RATES_RPS),
            "targets": "passthrough, gateway_miss, gateway_hit: one step each at a rate, in turn",
        },
        "duration_s": parameters.duration_s,
        "warmup_s": parameters.warmup_s,
        "litellm_warmup": {
            "rate_rps": LITELLM_WARMUP_RPS,
            "duration_s": parameters.litellm_warmup_s,
        },
        "workers_target": f"gateway_miss_2w: the gateway with --workers {WORKERS}",
        "machine": f"{os.cpu_count()} cores shared by the generator (one process), the provider,"
        " Redis and the target",
        "generator": "one process, regular arrivals, non-streaming chat, temperature 0",
        "model": MODEL.model_dump(),
        "max_tokens": MAX_TOKENS,
        "miss_prompts": dataclasses.asdict(MISS_PROMPTS),
        "hit_prompts": dataclasses.asdict(HIT_PROMPTS),
        "step_rule": f"p99 < {P99_LIMIT_FACTOR:g} x direct's p99 at {BASELINE_RATE_RPS}/s, errors <"
        f" {MAX_ERROR_FRACTION:.0%}, no shortfall",
        "gateway": " ".join(["python -m reference_impl --host", LOOPBACK, "--port P", *gateway]),
        "gateway_config": gateway_config(),
        "passthrough": "benchmarks.bench.passthrough_server (aiohttp on uvloop)",
        "litellm": f"{REQUIREMENT} as the built-in peer (stack.peers.litellm: its production"
        " config, cache in Redis), one uvicorn worker",
    }
