"""The gateway overhead benchmark's checks over every target's outcome."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..checks import Check
from ..common import ms
from .rounds import CPU_RATES_RPS, CpuRound, round_ratios
from .steal import BURST_WINDOW_S
from .steps import Step, TargetOutcome


OVERHEAD_RATE_RPS = 1000
OVERHEAD_P99_LIMIT_S = 0.002
HIT_RATE_RPS = 2000
HIT_P99_LIMIT_S = 0.005
PASSTHROUGH_SHARE = 0.5
LITELLM_MULTIPLE = 10
MISS_CPU_FACTOR = 2.0
"""A miss costs at most this multiple of the pass-through's CPU per request."""
HIT_CPU_FACTOR = 0.6
"""A hit (no upstream call) costs at most this multiple of the pass-through's."""
WORKERS_MULTIPLE = 1.7


def evaluate(
    outcomes: Mapping[str, TargetOutcome],
    rounds: Sequence[CpuRound],
    p99_limit_s: float,
    *,
    cores: int = 2,
) -> list[Check]:
    """The benchmark's checks over the targets' outcomes and the alternated CPU rounds
    (``cores``: the machine's)."""
    miss, hit, passthrough = (
        outcomes["gateway_miss"],
        outcomes["gateway_hit"],
        outcomes["passthrough"],
    )
    return [
        _overhead_check(miss, outcomes["direct"], p99_limit_s),
        _cpu_check(rounds, "gateway_miss", MISS_CPU_FACTOR, p99_limit_s),
        _capacity_check(miss, passthrough, PASSTHROUGH_SHARE, p99_limit_s),
        _capacity_check(miss, outcomes["litellm"], LITELLM_MULTIPLE, p99_limit_s),
        _hit_check(hit, p99_limit_s),
        _cpu_check(rounds, "gateway_hit", HIT_CPU_FACTOR, p99_limit_s),
        _capacity_check(hit, passthrough, 1, p99_limit_s),
        _workers_check(outcomes["gateway_miss_2w"], miss, rounds, p99_limit_s, cores=cores),
    ]


def _overhead_check(miss: TargetOutcome, direct: TargetOutcome, p99_limit_s: float) -> Check:
    name = f"gateway_miss p99 overhead at {OVERHEAD_RATE_RPS:,}/s"
    ours, reference = miss.step_at(OVERHEAD_RATE_RPS), direct.step_at(OVERHEAD_RATE_RPS)
    if ours is None or reference is None:
        return Check(name, None, f"not measured ({_why(miss if ours is None else direct)})")
    overhead_s = ours.p99_s - reference.p99_s
    detail = f"{ms(overhead_s)} ms (limit {ms(OVERHEAD_P99_LIMIT_S)} ms)"
    if not ours.passes(p99_limit_s):
        check = Check(name, False, f"{detail}, but the step itself failed")
    else:
        check = Check(name, overhead_s <= OVERHEAD_P99_LIMIT_S, detail)
    # a stall of ours makes the overhead look larger; one of the reference's, smaller
    check = _undecided_if_disturbed(check, ours)
    return _undecided_if_disturbed(check, reference, verdict=True)


def _cpu_check(rounds: Sequence[CpuRound], ours: str, factor: float, p99_limit_s: float) -> Check:
    """The median over the rounds of ``ours``'s CPU per request at most ``factor`` times the
    pass-through's, at each of ``CPU_RATES_RPS`` with a round that both passed (one at least)."""
    name = f"{ours} CPU per request <= {factor:g} x passthrough's"
    found = round_ratios(rounds, ours, "passthrough", p99_limit_s)
    if not found:
        rates = " or ".join(f"{rate:,}/s" for rate in CPU_RATES_RPS)
        return Check(name, None, f"not measured (no round at {rates} passed by both)")
    detail = "; ".join(ratios.describe() for ratios in found)
    return Check(name, max(r.median for r in found) <= factor, detail)


def _capacity_check(
    ours: TargetOutcome, other: TargetOutcome, factor: float, p99_limit_s: float
) -> Check:
    mine, theirs = ours.capacity_rps(p99_limit_s), other.capacity_rps(p99_limit_s)
    return _capacity_verdict(ours, other, factor, mine, theirs)


def _capacity_verdict(
    ours: TargetOutcome, other: TargetOutcome, factor: float, mine: int | None, theirs: int | None
) -> Check:
    name = f"{ours.name} capacity >= {factor:g} x {other.name}'s"
    if mine is None or theirs is None:
        return Check(name, None, f"not measured ({_why(ours if mine is None else other)})")
    if theirs == 0:
        lowest = other.steps[0].rate_rps
        return Check(
            name, None, f"{other.name} passed no step (its capacity is below {lowest:,}/s): no"
            f" multiple of it can be checked; {ours.name} {mine:,}/s",
        )  # fmt: skip
    return Check(name, mine >= factor * theirs, f"{mine:,}/s vs {theirs:,}/s")


def _workers_check(
    workers: TargetOutcome,
    one: TargetOutcome,
    rounds: Sequence[CpuRound],
    p99_limit_s: float,
    *,
    cores: int,
) -> Check:
    """Capacity on ``WORKERS`` workers at least ``WORKERS_MULTIPLE`` times one worker's;
    undecided when the generator or the machine ran out at the step that failed first.

    One worker's capacity is the highest rate it passed in the run: its ladder's, or a CPU
    round's above it. A ladder step failed by a hair (a p99 just over the limit) would
    otherwise halve one worker's capacity and make the multiple easy."""
    ladder = one.capacity_rps(p99_limit_s)
    in_rounds = _highest_round_pass(one.name, rounds, p99_limit_s)
    theirs = ladder if ladder is None or in_rounds is None else max(ladder, in_rounds)
    check = _capacity_verdict(
        workers, one, WORKERS_MULTIPLE, workers.capacity_rps(p99_limit_s), theirs
    )
    if theirs is not None and theirs != ladder:
        check = Check(
            check.name,
            check.passed,
            f"{check.detail} (one worker passed {theirs:,}/s in a CPU round; its ladder stopped"
            f" at {ladder:,}/s)",
        )
    failed = next((s for s in workers.final_steps() if not s.passes(p99_limit_s)), None)
    if check.passed is False and failed is not None:
        if failed.disturbed:
            return _undecided_if_disturbed(check, failed)
        limit = failed.ran_out(cores)
        if limit in {"generator", "machine"}:
            what = "the generator" if limit == "generator" else f"the machine ({cores} cores)"
            detail = f"{check.detail}; {what} ran out first, at {failed.rate_rps:,}/s"
            return Check(check.name, None, detail)
    return check


def _highest_round_pass(name: str, rounds: Sequence[CpuRound], p99_limit_s: float) -> int | None:
    """The highest rate at which ``name`` passed a step of a CPU round, if any."""
    passed = [
        step.rate_rps
        for one in rounds
        if (outcome := one.get(name)) is not None
        for step in outcome.steps
        if step.passes(p99_limit_s)
    ]
    return max(passed, default=None)


def _hit_check(hit: TargetOutcome, p99_limit_s: float) -> Check:
    name = f"gateway_hit at {HIT_RATE_RPS:,}/s, p99 <= {ms(HIT_P99_LIMIT_S)} ms"
    step = hit.step_at(HIT_RATE_RPS)
    if step is None:
        return Check(name, None, f"not measured ({_why(hit)})")
    held = step.healthy and step.p99_s <= min(HIT_P99_LIMIT_S, p99_limit_s)
    detail = f"p99 {ms(step.p99_s)} ms, errors {step.error_fraction:.2%}"
    check = Check(name, held, detail + ("" if step.shortfall is None else ", short"))
    return _undecided_if_disturbed(check, step)


def _undecided_if_disturbed(check: Check, *steps: Step, verdict: bool = False) -> Check:
    """``check`` undecided if its verdict is ``verdict`` (a failure by default) and rests on a
    step the hypervisor disturbed (``Step.disturbed``): such a verdict tells of the host's other
    tenants, not of the target."""
    robbed = [(step.rate_rps, step.stolen) for step in steps if step.disturbed]
    if check.passed is not verdict or not robbed:
        return check
    what = "; ".join(
        f"{stolen.total_s:.2f} s, {stolen.burst_s:.2f} s of it within {BURST_WINDOW_S:g} s,"
        f" at {rate:,}/s"
        for rate, stolen in robbed
        if stolen is not None
    )
    return Check(
        check.name, None, f"{check.detail}; undecided: the hypervisor took the cores ({what})"
    )


def _why(outcome: TargetOutcome) -> str:
    if outcome.could_not_run:
        return f"{outcome.name} could not run: {outcome.could_not_run.splitlines()[0]}"
    return f"{outcome.name} stopped below that rate"
