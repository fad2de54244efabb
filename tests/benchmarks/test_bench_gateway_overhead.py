"""The gateway overhead benchmark's pure parts: steps, capacity, /proc, checks, its targets."""

import dataclasses
import json
import os
import time

import pytest
import yaml
from aiohttp import web

from benchmarks.bench.gateway_overhead.evaluation import evaluate
from benchmarks.bench.gateway_overhead.gateway import gateway_args, gateway_config
from benchmarks.bench.gateway_overhead.load import FixedRateLoad, machine_cpu_s
from benchmarks.bench.gateway_overhead.parameters import (
    API_KEY,
    MISS_PROMPTS,
    MODEL,
    OverheadParameters,
)
from benchmarks.bench.gateway_overhead.report import generator_limit_rps, report
from benchmarks.bench.gateway_overhead.rounds import CPU_RATES_RPS
from benchmarks.bench.gateway_overhead.steal import (
    StealWatch,
    Stolen,
    largest_burst,
    stolen_cpu_s,
)
from benchmarks.bench.gateway_overhead.steps import Step, TargetOutcome, climb_ladder
from benchmarks.bench.litellm_proxy import (
    REQUIREMENT,
    link_values,
    litellm_command,
    litellm_gateway,
)
from benchmarks.bench.passthrough_server import create_app
from reference_impl.cli import gateway as gateway_command
from reference_impl.config import load_config
from stack.command_service import CommandGateway
from stack.gateway_command import fill
from stack.peers import PeerModel, litellm
from stack.peers.install import MARKER


LIMIT_S = 0.050


def _step(
    rate,
    *,
    p99_ms=25.0,
    p50_ms=22.0,
    errors=0,
    shortfall=None,
    requests=1000,
    hits=None,
    cpu_s=2.0,
    busy=None,
    stolen_s=None,
    stolen_burst_s=None,
):
    """A step of 10 s; ``busy``: CPU seconds per second of some processes."""
    return Step(
        rate_rps=rate,
        duration_s=10.0,
        achieved_rps=float(rate),
        requests=requests,
        errors=errors,
        p50_s=p50_ms / 1e3,
        p99_s=p99_ms / 1e3,
        shortfall=shortfall,
        cpu_s=cpu_s,
        peak_rss_bytes=50 * 2**20,
        cache={} if hits is None else {"hit": hits, "miss": requests - hits},
        processes_cpu_s={process: 10.0 * share for process, share in (busy or {}).items()},
        stolen=None if stolen_s is None else Stolen(stolen_s, stolen_burst_s or 0.0),
    )


def _ladder(name, rates, changes=None):
    """A target measured at ``rates``; ``changes[rate]``: keyword arguments of that step."""
    return TargetOutcome(name, tuple(_step(r, **(changes or {}).get(r, {})) for r in rates))


def _outcomes(**replace):
    """Every target healthy: the gateway adds 1 ms of p99, holds 2,000/s on hits at half the
    pass-through's CPU per request, and twice that on two workers."""
    rates = (250, 1000, 2000)
    hit_steps = {250: {"cpu_s": 1.0}, 2000: {"p99_ms": 3.0, "hits": 1000}}
    outcomes = {
        "direct": _ladder("direct", (25, 100, *rates)),
        "passthrough": _ladder("passthrough", rates),
        "gateway_miss": _ladder("gateway_miss", rates, {1000: {"p99_ms": 26.0}}),
        "gateway_hit": _ladder("gateway_hit", rates, hit_steps),
        "gateway_miss_2w": _ladder("gateway_miss_2w", (*rates, 4000)),
        "litellm": _ladder("litellm", (25, 100), {100: {"p99_ms": 400.0}}),
    }
    return outcomes | replace


def _rounds(changes=None, count=3):
    """``count`` healthy CPU rounds: a miss at the pass-through's CPU per request, a hit at
    half of it; ``changes[(round, target)]``: that target's step changes by rate, that round."""
    usual = {"gateway_hit": {rate: {"cpu_s": 1.0} for rate in CPU_RATES_RPS}}
    return tuple(
        {
            name: _ladder(name, CPU_RATES_RPS, (changes or {}).get((index, name), usual.get(name)))
            for name in ("passthrough", "gateway_miss", "gateway_hit")
        }
        for index in range(count)
    )


def _check(checks, name):
    """The check whose name starts with ``name``."""
    (found,) = [c for c in checks if c.name.startswith(name)]
    return found


# Steps and capacity


def test_capacity_is_the_highest_passing_rate_before_the_first_failure():
    outcome = _ladder("t", (250, 500, 1000), {1000: {"p99_ms": 80.0}})
    assert outcome.capacity_rps(LIMIT_S) == 500


def test_a_target_that_fails_its_first_rate_has_no_capacity_and_one_never_measured_has_none():
    assert _ladder("t", (250,), {250: {"p99_ms": 80.0}}).capacity_rps(LIMIT_S) == 0
    assert TargetOutcome("t", could_not_run="boom").capacity_rps(LIMIT_S) is None


def _runs(steps_by_rate, calls=None):
    """``run(rate, attempt)`` for ``climb_ladder``: each rate's steps in turn, each given once;
    ``calls`` receives each ``(rate, attempt)``."""
    pending = {rate: list(steps) for rate, steps in steps_by_rate.items()}

    def run(rate, attempt):
        if calls is not None:
            calls.append((rate, attempt))
        return pending[rate].pop(0)

    return run


def test_a_step_that_failed_only_its_p99_runs_once_more_and_the_second_run_decides():
    calls = []
    run = _runs({
        250: [_step(250)],
        500: [_step(500, p99_ms=80.0), _step(500)],
        1000: [_step(1000, p99_ms=80.0), _step(1000, p99_ms=90.0)],
    }, calls)  # fmt: skip

    steps = climb_ladder((250, 500, 1000, 2000), run, LIMIT_S)

    assert calls == [(250, 0), (500, 0), (500, 1), (1000, 0), (1000, 1)]

    assert [(s.rate_rps, s.passes(LIMIT_S)) for s in steps] == [
        (250, True), (500, False), (500, True), (1000, False), (1000, False),
    ]  # fmt: skip
    outcome = TargetOutcome("t", tuple(steps))
    assert outcome.capacity_rps(LIMIT_S) == 500
    assert outcome.step_at(500) is steps[2]
    assert [s.rate_rps for s in outcome.final_steps()] == [250, 500, 1000]


def test_a_step_with_errors_or_behind_schedule_is_not_run_again():
    for failed in (_step(500, errors=50), _step(500, shortfall="the generator fell behind")):
        run = _runs({250: [_step(250)], 500: [failed]})
        assert climb_ladder((250, 500, 1000), run, LIMIT_S) == [_step(250), failed]


def test_a_step_that_failed_in_any_way_while_disturbed_runs_once_more():
    calls = []
    robbed = _step(500, errors=50, shortfall="behind", stolen_s=1.0)
    run = _runs({250: [_step(250)], 500: [robbed, _step(500)], 1000: [_step(1000)]}, calls)

    steps = climb_ladder((250, 500, 1000), run, LIMIT_S)

    assert calls == [(250, 0), (500, 0), (500, 1), (1000, 0)]
    assert TargetOutcome("t", tuple(steps)).capacity_rps(LIMIT_S) == 1000


def test_a_disturbed_step_runs_once_more_even_when_it_passed_or_had_no_limit():
    calls = []
    robbed = _step(500, stolen_s=0.5)
    run = _runs({250: [_step(250)], 500: [robbed, _step(500)], 1000: [_step(1000)]}, calls)
    assert climb_ladder((250, 500, 1000), run, LIMIT_S)[1:3] == [robbed, _step(500)]
    assert calls == [(250, 0), (500, 0), (500, 1), (1000, 0)]

    run = _runs({25: [_step(25, p99_ms=80.0)], 100: [_step(100, stolen_s=0.5), _step(100)]})
    assert [s.rate_rps for s in climb_ladder((25, 100), run, None)] == [25, 100, 100]


def test_a_step_is_disturbed_when_the_hypervisor_took_two_hundredths_of_a_core_or_a_burst():
    assert not _step(250).disturbed  # not counted on this machine
    assert not _step(250, stolen_s=0.2, stolen_burst_s=0.01).disturbed  # 10 s: 2% of a core
    assert _step(250, stolen_s=0.21, stolen_burst_s=0.01).disturbed
    assert _step(250, stolen_s=0.05, stolen_burst_s=0.04).disturbed  # over 0.03 s at once
    assert _step(250, stolen_s=0.21).passes(LIMIT_S)
    assert not _step(250, stolen_s=0.21).comparable(LIMIT_S)
    assert _step(250, stolen_s=0.05, stolen_burst_s=0.02).comparable(LIMIT_S)


def test_the_largest_burst_of_steal_is_the_most_it_grew_within_the_window():
    samples = [(0.0, 1.0), (0.1, 1.0), (0.2, 1.02), (0.3, 1.09), (0.4, 1.1), (0.7, 1.2)]
    assert largest_burst(samples, 0.2) == pytest.approx(0.09)  # 1.0 at 0.1 to 1.09 at 0.3
    assert largest_burst(samples, 0.3) == pytest.approx(0.1)  # 1.0 at 0.1 to 1.1 at 0.4
    assert largest_burst(samples[:1], 0.2) == 0.0


def test_a_burst_of_exactly_the_limit_does_not_disturb_a_step(tmp_path):
    """Ticks of 0.01 s subtracted as floats must not cross the limit by a rounding error."""
    samples = [(0.0, 12345.64), (0.1, 12345.67)]
    burst_s = largest_burst(samples, 0.2)
    assert not _step(250, stolen_s=burst_s, stolen_burst_s=burst_s).disturbed


def test_the_steal_is_watched_through_a_step(tmp_path):
    stat = tmp_path / "stat"
    ticks = os.sysconf("SC_CLK_TCK")
    stat.write_text("cpu  10 0 1 500 100 0 0 100 0 0\n")
    with StealWatch(stat=stat, period_s=0.01) as watch:
        time.sleep(0.05)
        later = tmp_path / "later"  # replaced whole, as the kernel's file never is half-written
        later.write_text(f"cpu  10 0 1 500 100 0 0 {100 + ticks // 20} 0 0\n")
        later.replace(stat)
        time.sleep(0.05)
    assert watch.stolen is not None
    assert watch.stolen.total_s == pytest.approx(ticks // 20 / ticks)
    assert watch.stolen.burst_s == pytest.approx(watch.stolen.total_s)

    with StealWatch(stat=tmp_path / "none") as blind:
        pass
    assert blind.stolen is None


def test_without_a_limit_every_rate_runs_once():
    run = _runs({25: [_step(25, p99_ms=80.0)], 100: [_step(100, p99_ms=80.0)]})
    assert [s.rate_rps for s in climb_ladder((25, 100), run, None)] == [25, 100]


def test_a_rate_passed_on_its_second_run_keeps_a_whole_ladder_whole():
    outcome = TargetOutcome("gateway_hit", (_step(250), _step(500, p99_ms=80.0), _step(500)))
    outcomes = _outcomes(gateway_hit=outcome)
    targets = report(OverheadParameters.for_run(quick=True), outcomes, _rounds(), LIMIT_S).tables[1]
    assert any(line.split()[:2] == ["gateway_hit", "500+"] for line in targets.splitlines())


def test_a_step_fails_on_one_percent_of_errors_on_a_shortfall_or_on_its_p99():
    assert _step(250, errors=9).passes(LIMIT_S)
    assert not _step(250, errors=10).passes(LIMIT_S)
    assert not _step(250, shortfall="the load generator fell behind").passes(LIMIT_S)
    assert not _step(250, p99_ms=50.0).passes(LIMIT_S)


def test_cache_hits_are_a_share_of_the_requests_or_unknown_without_the_header():
    assert _step(250, hits=250).cache_hit_fraction == 0.25
    assert _step(250).cache_hit_fraction is None


def test_direct_runs_every_rate_of_both_ladders_and_litellm_only_its_own():
    parameters = OverheadParameters.for_run(quick=False)
    assert parameters.ladder("direct") == (
        5, 10, 25, 50, 100, 150, 200, 250, 500, 1000, 1500, 2000, 3000,
    )  # fmt: skip
    assert parameters.ladder("litellm") == (5, 10, 25, 50, 100, 150, 200)
    assert parameters.ladder("gateway_miss") == (250, 500, 1000, 1500, 2000, 3000)


def test_litellm_is_warmed_longer_than_the_others_at_a_rate_of_its_own():
    parameters = OverheadParameters.for_run(quick=False)
    assert parameters.warmup("litellm") == (25, 15.0)
    assert parameters.warmup("gateway_miss") == (250, 2.0)
    assert parameters.warmup("direct") == (5, 2.0)


def test_a_process_at_nine_tenths_of_a_core_ran_out_else_the_machine_at_that_share_of_all():
    assert _step(250, busy={"generator": 0.95, "target": 0.5}).ran_out(2) == "generator"
    assert _step(250, busy={"generator": 0.6, "target": 0.7, "redis": 0.6}).ran_out(2) == "machine"
    assert _step(250, busy={"generator": 0.6, "target": 0.7}).ran_out(2) is None
    assert _step(250).ran_out(2) is None


def test_a_target_of_two_workers_runs_out_at_nine_tenths_of_each_of_their_cores():
    step = _step(1000, busy={"generator": 0.3, "provider": 0.3, "target": 0.99})
    assert dataclasses.replace(step, target_workers=1).ran_out(2) == "target"
    assert dataclasses.replace(step, target_workers=2).ran_out(2) is None
    busier = _step(1000, busy={"generator": 0.35, "provider": 0.38, "redis": 0.06, "target": 0.99})
    assert dataclasses.replace(busier, target_workers=2).ran_out(2) == "machine"  # 1.78 of 2


def test_cpu_used_outside_the_benchmark_counts_towards_the_machine_running_out():
    step = dataclasses.replace(
        _step(250, busy={"generator": 0.6, "target": 0.7}), machine_cpu_s=10.0 * 1.9
    )
    assert step.others_busy() == pytest.approx(0.6)
    assert step.ran_out(2) == "machine"
    assert _step(250, busy={"target": 0.5}).others_busy() is None


def test_the_machines_cpu_is_read_from_the_cgroups_precise_count(tmp_path):
    (tmp_path / "cpuacct").mkdir()
    (tmp_path / "cpuacct" / "cpuacct.usage").write_text("2500000000\n")  # nanoseconds
    stat = _proc_stat(tmp_path, busy_ticks=1)

    assert machine_cpu_s(cgroup=tmp_path, stat=stat) == 2.5


def test_the_machines_cpu_is_read_from_a_unified_cgroup_hierarchy(tmp_path):
    (tmp_path / "cpu.stat").write_text("usage_usec 1500000\nuser_usec 1000000\n")
    stat = _proc_stat(tmp_path, busy_ticks=1)

    assert machine_cpu_s(cgroup=tmp_path, stat=stat) == 1.5


def test_the_machines_cpu_falls_back_on_proc_stat_without_a_cgroup_count(tmp_path):
    ticks = os.sysconf("SC_CLK_TCK")
    stat = _proc_stat(tmp_path, busy_ticks=4 * ticks)

    assert machine_cpu_s(cgroup=tmp_path / "none", stat=stat) == 4.0


def test_the_cpu_stolen_by_the_hypervisor_is_proc_stats_steal(tmp_path):
    ticks = os.sysconf("SC_CLK_TCK")
    stat = tmp_path / "stat"
    stat.write_text(f"cpu  10 0 1 500 100 0 0 {3 * ticks} 0 0\ncpu0 1 2 3\n")
    assert stolen_cpu_s(stat=stat) == 3.0

    stat.write_text("cpu  10 0 1 500 100 0 0\n")  # a kernel without the field
    assert stolen_cpu_s(stat=stat) is None
    assert stolen_cpu_s(stat=tmp_path / "none") is None


def _proc_stat(directory, *, busy_ticks):
    """A ``/proc/stat`` whose busy ticks (user, nice, system, irq, softirq, steal) add up to
    ``busy_ticks``; idle and iowait are not busy."""
    stat = directory / "stat"
    # user nice system idle iowait irq softirq steal (guest, guest_nice: inside user)
    stat.write_text(f"cpu  {busy_ticks - 1} 0 1 500 100 0 0 0 0 0\ncpu0 1 2 3\n")
    return stat


def test_cpu_per_request_is_per_answered_request_and_per_process():
    step = _step(250, requests=1000, errors=500, cpu_s=1.0, busy={"generator": 0.2})
    assert step.cpu_us_per_request() == 2000
    assert step.cpu_us_per_request("generator") == 4000
    assert step.cpu_us_per_request("redis") is None
    assert step.busy("generator") == 0.2


def test_the_generators_limit_is_where_its_cpu_per_request_would_fill_a_core():
    top = {"requests": 10_000, "busy": {"generator": 0.5}}  # 500 µs a request
    outcome = _ladder("t", (250, 1000), {1000: top})
    assert generator_limit_rps(outcome) == 2000
    assert generator_limit_rps(_ladder("t", (250,))) is None


def test_a_load_survives_its_trip_to_the_child_process():
    load = FixedRateLoad("http://127.0.0.1:1", 1000, 3.0, MISS_PROMPTS, seed=7)
    assert FixedRateLoad.from_json(load.to_json()) == load
    plan = load.plan()
    assert plan.processes == 1
    assert plan.target.api_key is not None
    assert plan.workload.arrivals.process == "regular"


# The checks


def test_healthy_targets_meet_every_check():
    checks = evaluate(_outcomes(), _rounds(), LIMIT_S)
    assert [c.passed for c in checks] == [True] * 8
    assert report(OverheadParameters.for_run(quick=True), _outcomes(), _rounds(), LIMIT_S).passed


def test_a_miss_costing_more_than_twice_the_passthroughs_cpu_fails_its_check():
    costly = {(i, "gateway_miss"): {250: {"cpu_s": 4.2}} for i in range(3)}
    check = _check(evaluate(_outcomes(), _rounds(costly), LIMIT_S), "gateway_miss CPU")
    assert check.passed is False
    assert "2.10 x at 250/s (rounds 2.10, 2.10, 2.10)" in check.detail


def test_the_cpu_checks_take_the_median_of_the_rounds():
    one_spoiled = {
        (0, "gateway_miss"): {250: {"cpu_s": 6.0}},
        (1, "gateway_miss"): {250: {"cpu_s": 3.8}},
    }
    check = _check(evaluate(_outcomes(), _rounds(one_spoiled), LIMIT_S), "gateway_miss CPU")
    assert check.passed is True
    assert check.detail.startswith("1.90 x at 250/s (rounds 3.00, 1.90, 1.00); 1.00 x at 500/s")


def test_a_hit_costing_more_than_six_tenths_of_the_passthroughs_cpu_fails_its_check():
    costly = {(i, "gateway_hit"): {} for i in range(3)}
    check = _check(evaluate(_outcomes(), _rounds(costly), LIMIT_S), "gateway_hit CPU")
    assert check.passed is False
    assert "1.00 x at 250/s" in check.detail


def test_cpu_is_compared_only_in_rounds_whose_two_steps_passed():
    slow = {250: {"p99_ms": 80.0}, 500: {"p99_ms": 80.0}}
    failing_once = {(0, "passthrough"): slow, (1, "gateway_miss"): {250: {"cpu_s": 3.0}}}
    check = _check(evaluate(_outcomes(), _rounds(failing_once), LIMIT_S), "gateway_miss CPU")
    assert "(rounds 1.50, 1.00)" in check.detail
    failing = {(i, "passthrough"): slow for i in range(3)}
    check = _check(evaluate(_outcomes(), _rounds(failing), LIMIT_S), "gateway_miss CPU")
    assert check.passed is None
    assert check.detail == "not measured (no round at 250/s or 500/s passed by both)"


def test_cpu_is_compared_only_in_rounds_that_the_hypervisor_left_alone():
    robbed = {
        (0, "passthrough"): {250: {"stolen_s": 0.5}},
        (1, "gateway_miss"): {250: {"cpu_s": 3.0}},
    }
    checks = evaluate(_outcomes(), _rounds(robbed), LIMIT_S)
    assert "1.25 x at 250/s (rounds 1.50, 1.00)" in _check(checks, "gateway_miss CPU").detail
    table = report(OverheadParameters.for_run(quick=True), _outcomes(), _rounds(robbed), LIMIT_S)
    assert "2000 STOLEN" in table.tables[2]


def test_no_round_leaves_the_cpu_checks_undecided():
    checks = evaluate(_outcomes(), (), LIMIT_S)
    assert _check(checks, "gateway_miss CPU").passed is None
    assert _check(checks, "gateway_hit CPU").passed is None


def test_a_litellm_that_passed_no_step_leaves_the_multiple_undecided_not_met():
    failing = _ladder("litellm", (5, 10), {5: {"p99_ms": 80.0}})
    outcomes = _outcomes(litellm=failing)
    check = _check(evaluate(outcomes, _rounds(), LIMIT_S), "gateway_miss capacity >= 10")
    assert check.passed is None
    assert "litellm passed no step (its capacity is below 5/s)" in check.detail
    assert not report(OverheadParameters.for_run(quick=True), outcomes, _rounds(), LIMIT_S).passed


def test_two_workers_short_of_the_multiple_fail_when_the_target_ran_out():
    short = _ladder("gateway_miss_2w", (250, 1000, 2000, 4000), {4000: {"p99_ms": 80.0}})
    check = _check(
        evaluate(_outcomes(gateway_miss_2w=short), _rounds(), LIMIT_S), "gateway_miss_2w"
    )
    assert check.passed is False
    assert check.detail == "2,000/s vs 2,000/s"


def test_two_workers_short_of_the_multiple_are_undecided_when_the_generator_ran_out():
    failing = {"p99_ms": 80.0, "busy": {"generator": 0.97, "target": 0.8}}
    short = _ladder("gateway_miss_2w", (250, 1000, 2000, 4000), {4000: failing})
    check = _check(
        evaluate(_outcomes(gateway_miss_2w=short), _rounds(), LIMIT_S), "gateway_miss_2w"
    )
    assert check.passed is None
    assert "the generator ran out first, at 4,000/s" in check.detail


def test_two_workers_short_of_the_multiple_are_undecided_when_the_step_was_disturbed():
    failing = {"p99_ms": 80.0, "stolen_s": 1.5, "stolen_burst_s": 0.2}
    short = _ladder("gateway_miss_2w", (250, 1000, 2000, 4000), {4000: failing})
    check = _check(
        evaluate(_outcomes(gateway_miss_2w=short), _rounds(), LIMIT_S), "gateway_miss_2w"
    )
    assert check.passed is None
    assert check.detail == (
        "2,000/s vs 2,000/s; undecided: the hypervisor took the cores (1.50 s, 0.20 s of it"
        " within 0.2 s, at 4,000/s)"
    )


def test_one_worker_counts_with_the_highest_rate_it_passed_in_a_cpu_round_too():
    """A ladder step that one worker failed by a hair must not make the multiple easy."""
    one = _ladder("gateway_miss", (250, 500, 1000), {500: {"p99_ms": 51.0}})
    two = _ladder("gateway_miss_2w", (250, 500, 1000), {1000: {"p99_ms": 80.0}})
    outcomes = _outcomes(gateway_miss=one, gateway_miss_2w=two)
    check = _check(evaluate(outcomes, _rounds(), LIMIT_S), "gateway_miss_2w")
    assert check.passed is False
    assert check.detail == (
        "500/s vs 500/s (one worker passed 500/s in a CPU round; its ladder stopped at 250/s)"
    )


def test_more_than_two_ms_of_p99_over_direct_at_1000_fails_the_overhead_check():
    slow = _ladder("gateway_miss", (250, 1000, 2000), {1000: {"p99_ms": 27.5}})
    overhead, *_ = evaluate(_outcomes(gateway_miss=slow), _rounds(), LIMIT_S)
    assert overhead.passed is False
    assert "2.500 ms" in overhead.detail


def test_a_gateway_that_fails_at_1000_fails_the_overhead_check_whatever_its_p99():
    failing = _ladder("gateway_miss", (250, 1000), {1000: {"errors": 50}})
    checks = evaluate(_outcomes(gateway_miss=failing), _rounds(), LIMIT_S)
    overhead = _check(checks, "gateway_miss p99")
    passthrough = _check(checks, "gateway_miss capacity >= 0.5")
    litellm = _check(checks, "gateway_miss capacity >= 10")
    assert overhead.passed is False
    assert "failed" in overhead.detail
    assert passthrough.passed is False  # 250 < half of 2,000
    assert litellm.passed is True  # 250 >= 10 x 25


def test_a_gateway_that_stopped_below_1000_leaves_the_overhead_undecided():
    stopped = _ladder("gateway_miss", (250,), {250: {"p99_ms": 80.0}})
    checks = evaluate(_outcomes(gateway_miss=stopped), _rounds(), LIMIT_S)
    overhead = _check(checks, "gateway_miss p99")
    passthrough = _check(checks, "gateway_miss capacity >= 0.5")
    litellm = _check(checks, "gateway_miss capacity >= 10")
    assert overhead.passed is None
    assert "stopped below" in overhead.detail
    assert (passthrough.passed, litellm.passed) == (False, False)


def test_litellm_that_could_not_run_leaves_its_check_undecided_and_the_benchmark_unpassed():
    missing = TargetOutcome("litellm", could_not_run="pip install failed with exit code 1")
    outcomes = _outcomes(litellm=missing)
    litellm = _check(evaluate(outcomes, _rounds(), LIMIT_S), "gateway_miss capacity >= 10")
    assert litellm.passed is None
    assert "pip install failed" in litellm.detail
    bench_report = report(OverheadParameters.for_run(quick=True), outcomes, _rounds(), LIMIT_S)
    assert not bench_report.passed
    assert "could not run: pip install failed" in bench_report.tables[1]


def test_cache_hits_slower_than_five_ms_at_2000_fail_the_hit_check():
    slow = _ladder("gateway_hit", (250, 1000, 2000), {2000: {"p99_ms": 5.5}})
    hit = _check(evaluate(_outcomes(gateway_hit=slow), _rounds(), LIMIT_S), "gateway_hit at")
    assert hit.passed is False


def test_a_latency_check_failed_on_a_disturbed_step_is_undecided_and_a_pass_stands():
    def hit_check(**at_2000):
        hit = _ladder("gateway_hit", (250, 1000, 2000), {2000: at_2000})
        return _check(evaluate(_outcomes(gateway_hit=hit), _rounds(), LIMIT_S), "gateway_hit at")

    robbed = hit_check(p99_ms=8.4, stolen_s=0.08, stolen_burst_s=0.07)
    assert robbed.passed is None
    assert robbed.detail == (
        "p99 8.400 ms, errors 0.00%; undecided: the hypervisor took the cores (0.08 s, 0.07 s of"
        " it within 0.2 s, at 2,000/s)"
    )
    assert hit_check(p99_ms=8.4, stolen_s=0.05, stolen_burst_s=0.01).passed is False
    assert hit_check(p99_ms=3.0, stolen_s=0.31, stolen_burst_s=0.07).passed is True


def test_the_overhead_check_is_undecided_when_a_stall_could_have_made_its_verdict():
    stolen = {"stolen_s": 0.4, "stolen_burst_s": 0.02}

    def overhead(miss_at_1000, direct_at_1000):
        direct = _ladder("direct", (25, 100, 250, 1000, 2000), {1000: direct_at_1000})
        miss = _ladder("gateway_miss", (250, 1000, 2000), {1000: miss_at_1000})
        outcomes = _outcomes(direct=direct, gateway_miss=miss)
        return _check(evaluate(outcomes, _rounds(), LIMIT_S), "gateway_miss p99 overhead")

    ours_stalled = overhead({"p99_ms": 30.0, **stolen}, {})  # 5 ms over direct's 25
    assert ours_stalled.passed is None
    assert ours_stalled.detail.endswith("cores (0.40 s, 0.02 s of it within 0.2 s, at 1,000/s)")
    assert overhead({"p99_ms": 30.0}, stolen).passed is False  # a slower reference: still over
    assert overhead({"p99_ms": 26.0}, stolen).passed is None  # a slower reference: maybe under
    assert overhead({"p99_ms": 26.0, **stolen}, {}).passed is True


def test_the_steps_table_shows_the_cpu_stolen_and_marks_a_disturbed_step():
    at = {
        250: {"stolen_s": 0.02, "stolen_burst_s": 0.01},
        2000: {"stolen_s": 0.08, "stolen_burst_s": 0.07},
    }
    hit = _ladder("gateway_hit", (250, 1000, 2000), at)
    steps = report(
        OverheadParameters.for_run(quick=True), _outcomes(gateway_hit=hit), _rounds(), LIMIT_S
    ).tables[0]
    rows = [line.split() for line in steps.splitlines() if line.split()[:1] == ["gateway_hit"]]
    assert rows[0][15:17] == ["0.02", "(0.01)"]
    assert rows[2][15:18] == ["0.08", "(0.07)", "!"]


def test_the_report_is_strict_json_even_with_an_empty_step():
    empty = _step(250, p99_ms=float("nan"), p50_ms=float("nan"), errors=1000)
    outcomes = _outcomes(gateway_miss=TargetOutcome("gateway_miss", (empty,)))
    bench_report = report(OverheadParameters.for_run(quick=True), outcomes, _rounds(), LIMIT_S)
    document = json.loads(bench_report.to_json("x", started_at=0, elapsed_s=1, load_average={}))
    (step,) = document["figures"]["targets"]["gateway_miss"]["steps"]
    assert step["p99_s"] is None
    assert step["passed"] is False


# The targets' configuration


def _installed_litellm(cache_dir):
    """A cache that holds the peer's finished install, so that nothing runs pip."""
    venv = cache_dir / f"litellm-{litellm.VERSION}"
    venv.mkdir(parents=True)
    (venv / MARKER).write_text(litellm.REQUIREMENT)
    return venv


def test_the_litellm_target_is_the_peer_installed_once_with_the_bench_key_as_master_key(
    tmp_path,
):
    venv = _installed_litellm(tmp_path / "cache")
    progress = []
    command = litellm_command(
        MODEL.name, api_key=API_KEY, cache_dir=tmp_path / "cache", on_progress=progress.append
    )
    assert progress == []  # the peer's install is reused
    assert REQUIREMENT == litellm.REQUIREMENT
    assert command.version == f"LiteLLM {litellm.VERSION}"
    assert command.argv[5] == str(venv / "bin" / "litellm")
    assert command.argv[-2:] == ("--num_workers", "1")
    assert command.env[litellm.MASTER_KEY_ENV] == API_KEY
    assert (command.auth.mode, command.auth.key) == ("one_key", API_KEY)
    assert command.env["LITELLM_LOG"] == "ERROR"  # the peer's settings, kept
    assert command.links_used() == litellm.LINKS


def test_the_litellm_target_serves_the_bench_model_from_its_provider_with_the_peer_config(
    tmp_path,
):
    _installed_litellm(tmp_path / "cache")
    command = litellm_command(
        MODEL.name, api_key=API_KEY, cache_dir=tmp_path / "cache", on_progress=print
    )
    values = link_values(
        provider_url="http://127.0.0.1:9000/", redis_url="redis://127.0.0.1:6380/0"
    )
    config = yaml.safe_load(fill(command.files[litellm.CONFIG_FILE], values))
    (route,) = config["model_list"]
    assert route["model_name"] == MODEL.name
    assert route["litellm_params"]["api_base"] == "http://127.0.0.1:9000/v1"
    assert config["router_settings"]["fallbacks"] == []
    assert (config["router_settings"]["redis_host"], config["router_settings"]["redis_port"]) == (
        "127.0.0.1",
        "6380",
    )
    assert config["litellm_settings"]["cache_params"]["port"] == "6380"
    assert config == yaml.safe_load(
        fill(yaml.safe_dump(litellm.config([PeerModel(MODEL.name)])), values)
    )


def test_the_litellm_target_runs_under_the_stacks_command_gateway(tmp_path):
    _installed_litellm(tmp_path / "cache")
    command = litellm_command(
        MODEL.name, api_key=API_KEY, cache_dir=tmp_path / "cache", on_progress=print
    )
    gateway = litellm_gateway(
        command, port=4000, provider_url="http://127.0.0.1:9000", redis_url="redis://127.0.0.1:1/0",
        work_dir=tmp_path / "work", log_dir=tmp_path / "logs",
    )  # fmt: skip
    assert isinstance(gateway, CommandGateway)
    assert gateway.url == "http://127.0.0.1:4000"
    config = str((tmp_path / "work").resolve() / litellm.CONFIG_FILE)
    argv = list(gateway.argv)
    assert argv[argv.index("--config") + 1] == config
    assert argv[argv.index("--port") + 1] == "4000"


def test_the_gateway_accepts_its_command_line_and_config_file(tmp_path):
    config_path = tmp_path / "gateway.json"
    config_path.write_text(json.dumps(gateway_config()))
    argv = gateway_args(
        provider_url="http://127.0.0.1:9000",
        redis_url="redis://127.0.0.1:6379/0",
        config=config_path,
    )
    context = gateway_command.make_context("gateway", ["--host", "127.0.0.1", "--port", "0", *argv])
    args = context.params
    config = load_config(
        args["config_path"],
        overrides={"provider_url": args["provider_url"], "redis_url": args["redis_url"]},
        environ={},
    )
    assert config.profile == "hardened"
    assert [t.name for t in config.tenants] == ["bench"]
    # caps above the requests in flight at the top rate, even if each took a second
    assert min(config.limiter.tenant_cap, config.limiter.global_cap or 0) >= 3000


# The pass-through


async def test_the_passthrough_forwards_a_post_and_returns_what_came_back(
    aiohttp_server, aiohttp_client
):
    seen = []

    async def upstream_handler(request: web.Request) -> web.Response:
        seen.append((request.path, request.headers.get("Authorization"), await request.read()))
        return web.json_response({"answered": True}, status=201)

    upstream = web.Application()
    upstream.router.add_post("/v1/chat/completions", upstream_handler)
    upstream_server = await aiohttp_server(upstream)
    client = await aiohttp_client(create_app(str(upstream_server.make_url("/"))))

    response = await client.post(
        "/v1/chat/completions",
        data=b'{"model": "m"}',
        headers={"Authorization": "Bearer sk-x", "Content-Type": "application/json"},
    )
    assert response.status == 201
    assert await response.json() == {"answered": True}
    assert response.headers["Content-Type"].startswith("application/json")
    assert seen == [("/v1/chat/completions", "Bearer sk-x", b'{"model": "m"}')]
    assert (await client.get("/healthz")).status == 200
