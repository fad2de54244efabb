"""The steady-state probe never warms a cache for the run it guards: its prompts are its own."""

from benchmarks.arrivals import Arrivals, Constant
from benchmarks.plan import LoadPlan
from benchmarks.target import Target
from benchmarks.workload import Workload
from scenarios.probe import probe_plan
from scenarios.schema import SteadyStateSpec


def prompts_of(plan: LoadPlan) -> set[str]:
    schedule = plan.workload.schedule(plan.duration_s)
    return {plan.workload.request_spec(schedule, i, None).prompt for i in range(len(schedule))}


def test_the_probe_sends_no_prompt_the_run_sends() -> None:
    run = LoadPlan(Workload(Arrivals(Constant(50.0)), seed=3), 20.0, Target("http://127.0.0.1:9"))
    probe = probe_plan(run, SteadyStateSpec(duration_s=10.0, rate_rps=20.0))
    probe_prompts, run_prompts = prompts_of(probe), prompts_of(run)
    assert len(probe_prompts) > 10
    assert probe_prompts.isdisjoint(run_prompts)


def test_the_probe_keeps_the_runs_mix_at_its_own_rate() -> None:
    run = LoadPlan(Workload(Arrivals(Constant(50.0)), seed=3), 20.0, Target("http://127.0.0.1:9"))
    probe = probe_plan(run, SteadyStateSpec(duration_s=4.0, rate_rps=5.0))
    assert probe.duration_s == 4.0
    assert probe.workload.arrivals.shape == Constant(5.0)
    assert probe.workload.tenants == run.workload.tenants
    assert probe.workload.seed != run.workload.seed
