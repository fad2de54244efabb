"""Gateway overhead: what each gateway adds to the provider's latency, and the rate it holds.

One run starts the simulated provider (one model with a short, steady latency: ``MODEL``) and
a Redis of its own, then loads six targets in turn, each started on a loopback port and
stopped before the next: ``direct`` (the provider itself), ``passthrough`` (a bare aiohttp
pass-through, ``passthrough_server``: the floor for any Python gateway), ``gateway_miss`` and
``gateway_hit`` (our gateway, hardened profile, one worker; every request a new prompt, or
one of a few prompts cached beforehand), ``gateway_miss_2w`` (the miss path on two workers)
and ``litellm`` (the LiteLLM proxy as the built-in peer of ``stack.peers`` runs it, with its
Redis cache, one worker: ``litellm_proxy``). Each target gets a warm-up (LiteLLM a longer
one: it imports and compiles for its first seconds of traffic), then fixed rates up its ladder
(``OverheadParameters``), each run by our open-loop engine (one process, regular arrivals,
non-streaming chat) in a fresh child process.

Around each run the CPU time of every process is read from ``/proc``: the generator (the
child's own count), the provider, Redis and the target (with its child processes; LiteLLM's
without the group guard that runs it), and the target's peak RSS; the generator also reads
the machine's busy share from ``/proc/stat`` during its run, so that CPU spent by processes
outside the benchmark shows (``others``). A step names what ran out first: a process busy for
``SATURATED_SHARE`` of a core (each is one thread of Python; the target has one per worker),
or the machine, when every process on it together used ``MACHINE_SATURATED_SHARE`` of all its
cores (past it, four busy processes on two cores wait for each other long enough to fail a
step's p99). The generator's own limit is the rate
at which its CPU per request would fill one core.

A step passes when its p99 is below ``P99_LIMIT_FACTOR`` times the provider's own p99 at
``BASELINE_RATE_RPS``, fewer than ``MAX_ERROR_FRACTION`` of its requests failed, and the
generator kept its schedule. A target stops climbing at its first failing step (``direct``,
the reference, climbs its whole ladder); its capacity is its highest passing rate. The checks:
``gateway_miss`` adds at most 2 ms of p99 at 1,000/s, costs at most twice the pass-through's
CPU per request, reaches half the capacity of ``passthrough`` and ten times that of
``litellm``; ``gateway_hit`` holds 2,000/s with p99 at most 5 ms, costs at most 0.6 times the
pass-through's CPU per request and reaches its capacity; two workers reach 1.7 times one
worker's capacity. A comparison with a target that passed no step (capacity 0) is undecided,
as is the two-worker check when the generator or the machine ran out first. A target that
could not run (say, LiteLLM could not be installed) is reported with the reason; the checks
that need it are then undecided, and the benchmark does not pass.

Every process shares the machine's cores: the generator, the provider, Redis and the target.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from stack.config import StackConfig
from stack.errors import StackError
from stack.ports import LOOPBACK, ephemeral_port
from stack.process import child_pids
from stack.process_usage import process_usage
from stack.provider.config import ModelSpec, ProviderConfig
from stack.python_service import PythonService
from stack.redis_server import RedisServer, find_redis_server
from stack.service import Service

from ..arrivals import Arrivals, Constant
from ..endpoints import RequestSpec, endpoint
from ..event_loop import run_with_fast_loop
from ..op import CacheStatus
from ..plan import LoadPlan
from ..popularity import MAX_TEMPLATES, PromptCatalogue
from ..runner import run_load
from ..summary import Summary
from ..target import Target
from ..workload import TenantShare, Workload
from .common import Benchmark, BenchOptions, BenchReport, format_table, ms, run_json_child, say
from .litellm_proxy import REQUIREMENT, litellm_command, litellm_gateway
from .rate_search import capacity


NAME = "gateway_overhead"
MODULE = f"benchmarks.bench.{NAME}"
MODEL = ModelSpec(
    name="gpt-4o-mini", ttft_ms=20, tpot_ms=0.5, jitter=0.05, slots=65_536, load_slowdown=0,
    output_tokens_min=4, output_tokens_max=8,
)  # fmt: skip
MAX_TOKENS = 8
TENANT = "bench"
API_KEY = "sk-bench-gateway-overhead"
MISS_PROMPTS = PromptCatalogue(templates=MAX_TEMPLATES, entities=100_000, skew=0.0)
"""12 million prompts drawn uniformly: a run of 30,000 requests repeats about 0.1% of them."""
HIT_PROMPTS = PromptCatalogue(templates=1, entities=16, skew=0.0)
REQUEST_TIMEOUT_S = 10.0
START_TIMEOUT_S = 30.0
LITELLM_START_TIMEOUT_S = 180.0
P99_LIMIT_FACTOR = 2.0
MAX_ERROR_FRACTION = 0.01
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
CPU_RATES_RPS = (250, 500)
"""Where CPU per request is compared: rates every target passes, below any saturation."""
WORKERS = 2
WORKERS_MULTIPLE = 1.7
BASELINE_RATE_RPS = 25
"""The rate of direct's p99 that sets every step's limit."""
LITELLM_WARMUP_RPS = 25
PROCESSES = ("generator", "provider", "redis", "target")
SATURATED_SHARE = 0.9
"""A process this busy (CPU seconds per second, of one core) ran out."""
MACHINE_SATURATED_SHARE = 0.85
"""The machine ran out when every process on it together kept this share of its cores busy."""


def gateway_args(*, provider_url: str, redis_url: str, config: Path, workers: int = 1) -> list[str]:
    """The gateway's command line after ``--host`` and ``--port``: the one place that knows it."""
    return [
        "--provider-url", provider_url, "--redis-url", redis_url, "--profile", "hardened",
        "--config", str(config), "--workers", str(workers),
    ]  # fmt: skip


def gateway_config() -> dict[str, Any]:
    """The gateway's config file: our tenant, and limiter caps far above the offered load."""
    return {
        "tenants": [{"name": TENANT, "api_key": API_KEY}],
        "limiter": {"tenant_cap": 65_536, "global_cap": 65_536},
    }


@dataclass(frozen=True)
class OverheadParameters:
    """The rates of the ladders, and how long each step and each warm-up lasts."""

    rates_rps: tuple[int, ...]
    litellm_rates_rps: tuple[int, ...]
    duration_s: float
    warmup_s: float
    litellm_warmup_s: float

    @classmethod
    def for_run(cls, *, quick: bool) -> OverheadParameters:
        """250 to 3,000/s (LiteLLM 5 to 200/s), 10 s a step, LiteLLM warmed for 15 s;
        ``quick``: 3 rates (LiteLLM 4), 3 s a step, LiteLLM warmed for 8 s."""
        if quick:
            return cls((250, 1000, 2000), (5, 10, 25, 100), 3.0, 1.0, 8.0)
        litellm = (5, 10, 25, 50, 100, 150, 200)
        return cls((250, 500, 1000, 1500, 2000, 3000), litellm, 10.0, 2.0, 15.0)

    def warmup(self, target: str) -> tuple[int, float]:
        """The rate and the seconds of ``target``'s warm-up."""
        if target == "litellm":
            return LITELLM_WARMUP_RPS, self.litellm_warmup_s
        return self.ladder(target)[0], self.warmup_s

    def ladder(self, target: str) -> tuple[int, ...]:
        """``target``'s rates; ``direct``, the reference of every other, runs them all."""
        if target == "litellm":
            return self.litellm_rates_rps
        if target == "direct":
            return tuple(sorted({*self.rates_rps, *self.litellm_rates_rps}))
        return self.rates_rps


@dataclass(frozen=True)
class Step:
    """One target at one rate: what the load measured and what the target spent."""

    rate_rps: int
    duration_s: float
    achieved_rps: float
    requests: int
    errors: int
    p50_s: float
    p99_s: float
    shortfall: str | None
    cpu_s: float
    """The target's CPU time (with its child processes)."""
    peak_rss_bytes: int
    cache: Mapping[str, int] = field(default_factory=dict)
    """Responses by ``x-cache`` value (``hit``, ``miss``, ...); empty when none had the header."""
    redis_cpu_s: float | None = None
    summary: Mapping[str, Any] = field(default_factory=dict)
    processes_cpu_s: Mapping[str, float] = field(default_factory=dict)
    """CPU time of each process (``PROCESSES``): the target's is also ``cpu_s``."""
    machine_cpu_s: float | None = None
    """CPU time of the whole machine, every process on it included (``/proc/stat``)."""
    target_workers: int = 1
    """The target's processes that serve requests (each one thread)."""

    @property
    def error_fraction(self) -> float:
        """Failed or unknown requests over those scheduled."""
        return self.errors / max(self.requests, 1)

    @property
    def cache_hit_fraction(self) -> float | None:
        """The share of requests answered from the cache; None without ``x-cache`` headers."""
        return self.cache.get("hit", 0) / max(self.requests, 1) if self.cache else None

    @property
    def healthy(self) -> bool:
        """On schedule, and fewer than ``MAX_ERROR_FRACTION`` of the requests failed."""
        return self.shortfall is None and self.error_fraction < MAX_ERROR_FRACTION

    def passes(self, p99_limit_s: float) -> bool:
        """Healthy, with p99 below ``p99_limit_s``."""
        return self.healthy and self.p99_s < p99_limit_s

    @property
    def answered(self) -> int:
        """Requests that got an answer (at least 1, to divide by)."""
        return max(self.requests - self.errors, 1)

    def cpu_us_per_request(self, process: str = "target") -> float | None:
        """CPU microseconds per answered request of ``process``; None if not measured."""
        cpu_s = self.cpu_s if process == "target" else self.processes_cpu_s.get(process)
        return None if cpu_s is None else 1e6 * cpu_s / self.answered

    def busy(self, process: str) -> float | None:
        """CPU seconds per second of ``process`` (1.0: one core, all the time)."""
        cpu_s = self.processes_cpu_s.get(process)
        return None if cpu_s is None else cpu_s / self.duration_s

    def others_busy(self) -> float | None:
        """CPU seconds per second of everything on the machine but the measured processes."""
        if self.machine_cpu_s is None:
            return None
        return max(0.0, self.machine_cpu_s - sum(self.processes_cpu_s.values())) / self.duration_s

    def ran_out(self, cores: int) -> str | None:
        """The busiest process if it used ``SATURATED_SHARE`` of a core (the target: of each of
        its workers' cores), else ``machine`` if every process on it together used
        ``MACHINE_SATURATED_SHARE`` of every core, else None."""
        busy = {name: cpu_s / self.duration_s for name, cpu_s in self.processes_cpu_s.items()}
        if not busy:
            return None
        per_thread = {
            name: share / (self.target_workers if name == "target" else 1)
            for name, share in busy.items()
        }
        busiest = max(per_thread, key=per_thread.__getitem__)
        if per_thread[busiest] >= SATURATED_SHARE:
            return busiest
        machine = sum(busy.values()) + (self.others_busy() or 0.0)
        return "machine" if machine >= MACHINE_SATURATED_SHARE * cores else None

    def to_dict(self, p99_limit_s: float) -> dict[str, Any]:
        """The figures of the JSON report."""
        plain = {k: v for k, v in dataclasses.asdict(self).items() if k != "summary"}
        plain |= {"p50_s": _finite(self.p50_s), "p99_s": _finite(self.p99_s)}
        return plain | {
            "passed": self.passes(p99_limit_s),
            "cpu_s_per_s": self.cpu_s / self.duration_s,
            "summary": dict(self.summary),
        }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _busy(step: Step) -> str:
    """Each process's CPU seconds per second: ``generator 0.41, provider 0.20, ...``."""
    return ", ".join(
        f"{process} {busy:.2f}" for process in PROCESSES if (busy := step.busy(process)) is not None
    )


def machine_cpu_s(stat: Path = Path("/proc/stat")) -> tuple[float, float]:
    """The machine's busy and total CPU seconds since boot, every core together."""
    fields = [int(value) for value in stat.read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    ticks_per_s = os.sysconf("SC_CLK_TCK")
    return (sum(fields[:8]) - idle) / ticks_per_s, sum(fields[:8]) / ticks_per_s


def _baseline(direct: TargetOutcome) -> Step | None:
    """Direct's step at ``BASELINE_RATE_RPS`` (its lowest, if that rate was not run)."""
    return direct.step_at(BASELINE_RATE_RPS) or (direct.steps[0] if direct.steps else None)


@dataclass(frozen=True)
class TargetOutcome:
    """A target's steps, or why it could not run (or go on)."""

    name: str
    steps: tuple[Step, ...] = ()
    could_not_run: str | None = None

    def step_at(self, rate_rps: int) -> Step | None:
        """The step at ``rate_rps``, if it was measured."""
        return next((s for s in self.steps if s.rate_rps == rate_rps), None)

    def capacity_rps(self, p99_limit_s: float) -> int | None:
        """The highest passing rate below the lowest failing one; None if nothing was measured."""
        if not self.steps:
            return None
        return capacity({s.rate_rps: s.passes(p99_limit_s) for s in self.steps})


@dataclass(frozen=True)
class Check:
    """One target of the benchmark: met (True), missed (False) or undecided (None)."""

    name: str
    passed: bool | None
    detail: str

    def line(self) -> str:
        """``[pass] name: detail``."""
        mark = {True: "pass", False: "FAIL", None: "n/a"}[self.passed]
        return f"[{mark}] {self.name}: {self.detail}"


def evaluate(
    outcomes: Mapping[str, TargetOutcome], p99_limit_s: float, *, cores: int = 2
) -> list[Check]:
    """The benchmark's checks over the targets' outcomes (``cores``: the machine's)."""
    miss, hit, passthrough = (
        outcomes["gateway_miss"],
        outcomes["gateway_hit"],
        outcomes["passthrough"],
    )
    return [
        _overhead_check(miss, outcomes["direct"], p99_limit_s),
        _cpu_check(miss, passthrough, MISS_CPU_FACTOR, p99_limit_s),
        _capacity_check(miss, passthrough, PASSTHROUGH_SHARE, p99_limit_s),
        _capacity_check(miss, outcomes["litellm"], LITELLM_MULTIPLE, p99_limit_s),
        _hit_check(hit, p99_limit_s),
        _cpu_check(hit, passthrough, HIT_CPU_FACTOR, p99_limit_s),
        _capacity_check(hit, passthrough, 1, p99_limit_s),
        _workers_check(outcomes["gateway_miss_2w"], miss, p99_limit_s, cores=cores),
    ]


def _overhead_check(miss: TargetOutcome, direct: TargetOutcome, p99_limit_s: float) -> Check:
    name = f"gateway_miss p99 overhead at {OVERHEAD_RATE_RPS:,}/s"
    ours, reference = miss.step_at(OVERHEAD_RATE_RPS), direct.step_at(OVERHEAD_RATE_RPS)
    if ours is None or reference is None:
        return Check(name, None, f"not measured ({_why(miss if ours is None else direct)})")
    overhead_s = ours.p99_s - reference.p99_s
    detail = f"{ms(overhead_s)} ms (limit {ms(OVERHEAD_P99_LIMIT_S)} ms)"
    if not ours.passes(p99_limit_s):
        return Check(name, False, f"{detail}, but the step itself failed")
    return Check(name, overhead_s <= OVERHEAD_P99_LIMIT_S, detail)


def _cpu_check(
    ours: TargetOutcome, other: TargetOutcome, factor: float, p99_limit_s: float
) -> Check:
    """CPU per request at most ``factor`` times ``other``'s at each of ``CPU_RATES_RPS`` that
    both passed (at least one)."""
    name = f"{ours.name} CPU per request <= {factor:g} x {other.name}'s"
    ratios = {}
    for rate in CPU_RATES_RPS:
        mine, theirs = ours.step_at(rate), other.step_at(rate)
        if mine and theirs and mine.passes(p99_limit_s) and theirs.passes(p99_limit_s):
            ratios[rate] = (mine.cpu_us_per_request() or 0) / (theirs.cpu_us_per_request() or 1)
    if not ratios:
        rates = " or ".join(f"{rate:,}/s" for rate in CPU_RATES_RPS)
        return Check(name, None, f"not measured (no step at {rates} passed by both)")
    detail = ", ".join(f"{ratio:.2f} x at {rate:,}/s" for rate, ratio in ratios.items())
    return Check(name, max(ratios.values()) <= factor, detail)


def _capacity_check(
    ours: TargetOutcome, other: TargetOutcome, factor: float, p99_limit_s: float
) -> Check:
    name = f"{ours.name} capacity >= {factor:g} x {other.name}'s"
    mine, theirs = ours.capacity_rps(p99_limit_s), other.capacity_rps(p99_limit_s)
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
    workers: TargetOutcome, one: TargetOutcome, p99_limit_s: float, *, cores: int
) -> Check:
    """Capacity on ``WORKERS`` workers at least ``WORKERS_MULTIPLE`` times one worker's;
    undecided when the generator or the machine ran out at the step that failed first."""
    check = _capacity_check(workers, one, WORKERS_MULTIPLE, p99_limit_s)
    failed = next((s for s in workers.steps if not s.passes(p99_limit_s)), None)
    if check.passed is False and failed is not None:
        limit = failed.ran_out(cores)
        if limit in {"generator", "machine"}:
            what = "the generator" if limit == "generator" else f"the machine ({cores} cores)"
            detail = f"{check.detail}; {what} ran out first, at {failed.rate_rps:,}/s"
            return Check(check.name, None, detail)
    return check


def _hit_check(hit: TargetOutcome, p99_limit_s: float) -> Check:
    name = f"gateway_hit at {HIT_RATE_RPS:,}/s, p99 <= {ms(HIT_P99_LIMIT_S)} ms"
    step = hit.step_at(HIT_RATE_RPS)
    if step is None:
        return Check(name, None, f"not measured ({_why(hit)})")
    held = step.healthy and step.p99_s <= min(HIT_P99_LIMIT_S, p99_limit_s)
    detail = f"p99 {ms(step.p99_s)} ms, errors {step.error_fraction:.2%}"
    return Check(name, held, detail + ("" if step.shortfall is None else ", short"))


def _why(outcome: TargetOutcome) -> str:
    if outcome.could_not_run:
        return f"{outcome.name} could not run: {outcome.could_not_run.splitlines()[0]}"
    return f"{outcome.name} stopped below that rate"


@dataclass(frozen=True)
class FixedRateLoad:
    """One measured run: regular arrivals of non-streaming chat requests from one tenant."""

    url: str
    rate_rps: int
    duration_s: float
    prompts: PromptCatalogue
    seed: int

    def plan(self) -> LoadPlan:
        """The load plan of one generator process."""
        workload = Workload(
            arrivals=Arrivals(Constant(self.rate_rps), "regular"),
            tenants=(TenantShare(TENANT, 1.0),),
            prompts=self.prompts,
            model=MODEL.name,
            max_tokens=MAX_TOKENS,
            seed=self.seed,
        )
        target = Target(self.url, timeout_s=REQUEST_TIMEOUT_S, api_key=API_KEY)
        return LoadPlan(workload, self.duration_s, target)

    def to_json(self) -> str:
        """This load as one JSON argument."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> FixedRateLoad:
        """Back from ``to_json``."""
        data = json.loads(text)
        return cls(**(data | {"prompts": PromptCatalogue(**data["prompts"])}))


def run_in_child(load: FixedRateLoad) -> dict[str, Any]:
    """Run ``load`` in a fresh process (see ``main``); its stderr passes through."""
    argv = [sys.executable, "-m", MODULE, "--load", load.to_json()]
    result: dict[str, Any] = run_json_child(
        argv, duration_s=load.duration_s, what=f"the load run {load}"
    )
    return result


def run_here(load: FixedRateLoad) -> dict[str, Any]:
    """Run ``load`` on a fast event loop in this process: its summary, shortfall, cache hits,
    the CPU time the run took this process (the generator's) and the share of the machine's
    CPU time that was busy meanwhile (every process on it)."""
    plan = load.plan()
    started_cpu_s, machine_before = time.process_time(), machine_cpu_s()
    result = run_with_fast_loop(run_load(plan))
    cpu_s, machine_after = time.process_time() - started_cpu_s, machine_cpu_s()
    busy_s, total_s = (machine_after[0] - machine_before[0], machine_after[1] - machine_before[1])
    cache = result.table.ops["cache"]
    counts = {status.name.lower(): int((cache == status).sum()) for status in CacheStatus}
    return {
        "summary": Summary.of(result.table, result.itl, plan.duration_s).to_dict(),
        "shortfall": result.shortfall(),
        "cache": {} if counts["none"] == len(cache) else counts,
        "cpu_s": cpu_s,
        "machine_busy": busy_s / max(total_s, 1e-9),
    }


def _start(running: ExitStack, service: Service, timeout_s: float = START_TIMEOUT_S) -> int:
    """Start ``service``, stopped when ``running`` closes; its pid."""
    running.callback(service.stop)
    service.launch()
    info = service.wait_ready(time.monotonic() + timeout_s)
    if info.pid is None:
        raise RuntimeError(f"{info.name}: started but its pid is unknown")
    return info.pid


@dataclass(frozen=True)
class _Bench:
    """What every target's measurement shares: the dependencies, the parameters, the places."""

    parameters: OverheadParameters
    provider_url: str
    provider_pid: int
    redis_url: str
    redis_pid: int
    work: Path
    log_dir: Path
    cache_dir: Path

    def climb(
        self,
        name: str,
        start: Callable[[ExitStack], tuple[str, int]],
        *,
        p99_limit_s: float | None,
        prompts: PromptCatalogue = MISS_PROMPTS,
        prepare: Callable[[str], None] | None = None,
        workers: int = 1,
    ) -> TargetOutcome:
        """Start a target (of ``workers`` serving processes), warm it, climb its ladder until
        a step fails, stop it.

        ``p99_limit_s`` None climbs the whole ladder. ``prepare(url)`` runs before each run.
        """
        steps: list[Step] = []
        try:
            with ExitStack() as running:
                url, pid = start(running)
                ladder = self.parameters.ladder(name)
                warmup_rps, warmup_s = self.parameters.warmup(name)
                say(f"{NAME}: {name}: warming up at {warmup_rps:,}/s for {warmup_s:g} s")
                if prepare:
                    prepare(url)
                run_in_child(FixedRateLoad(url, warmup_rps, warmup_s, prompts, 0))
                for rate in ladder:
                    if prepare:
                        prepare(url)
                    step = self._step(name, url, pid, rate, prompts)
                    steps.append(dataclasses.replace(step, target_workers=workers))
                    if p99_limit_s is not None and not steps[-1].passes(p99_limit_s):
                        break
        except (StackError, RuntimeError, OSError, redis.RedisError) as exc:  # a failed install too
            say(f"{NAME}: {name}: could not run: {exc}")
            return TargetOutcome(name, tuple(steps), could_not_run=str(exc))
        return TargetOutcome(name, tuple(steps))

    def _step(
        self,
        name: str,
        url: str,
        pid: int,
        rate: int,
        prompts: PromptCatalogue,
    ) -> Step:
        """One measured run, with the CPU of every process and the target's memory."""
        duration_s = self.parameters.duration_s
        say(f"{NAME}: {name}: {rate:,} requests/s for {duration_s:g} s")
        watched = {"target": pid, "redis": self.redis_pid}
        if self.provider_pid != pid:
            watched["provider"] = self.provider_pid
        before = {process: process_usage(p) for process, p in watched.items()}
        result = run_in_child(FixedRateLoad(url, rate, duration_s, prompts, seed=rate))
        after = {process: process_usage(p) for process, p in watched.items()}
        cpu_s = {process: after[process].cpu_s - before[process].cpu_s for process in watched}
        summary = Summary.from_dict(result["summary"])
        step = Step(
            rate_rps=rate,
            duration_s=duration_s,
            achieved_rps=summary.achieved_rate_rps,
            requests=summary.scheduled,
            errors=summary.failed + summary.unknown,
            p50_s=summary.latency_s.p50_s,
            p99_s=summary.latency_s.p99_s,
            shortfall=result["shortfall"],
            cpu_s=cpu_s["target"],
            peak_rss_bytes=after["target"].peak_rss_bytes,
            cache=result["cache"],
            redis_cpu_s=cpu_s["redis"],
            summary=result["summary"],
            processes_cpu_s={"generator": result["cpu_s"], **cpu_s},
            machine_cpu_s=result["machine_busy"] * (os.cpu_count() or 1) * duration_s,
        )
        say(
            f"{NAME}:   p50 {ms(step.p50_s)} ms, p99 {ms(step.p99_s)} ms, errors {step.errors:,},"
            f" CPU s/s {_busy(step)}" + (" (short)" if step.shortfall else "")
        )
        return step

    def start_passthrough(self, running: ExitStack) -> tuple[str, int]:
        """The pass-through to the provider."""
        service = PythonService(
            "passthrough", "benchmarks.bench.passthrough_server", port=ephemeral_port(),
            log_dir=self.log_dir, args=["--upstream", self.provider_url],
        )  # fmt: skip
        return service.url, _start(running, service)

    def start_gateway(self, running: ExitStack, name: str, workers: int = 1) -> tuple[str, int]:
        """A fresh gateway of ``workers`` on an empty Redis, logging to ``<name>.log``; the pid
        measured is its first process's (its workers are its children)."""
        self.empty_redis()
        config = self.work / "gateway.json"
        config.write_text(json.dumps(gateway_config()))
        args = gateway_args(
            provider_url=self.provider_url, redis_url=self.redis_url, config=config, workers=workers
        )
        service = PythonService(
            name, "reference_impl", port=ephemeral_port(), log_dir=self.log_dir, args=args
        )
        return service.url, _start(running, service)

    def start_litellm(self, running: ExitStack) -> tuple[str, int]:
        """LiteLLM on an empty Redis, installed first if need be; the pid measured is the
        proxy's, below the group guard that runs it."""
        command = litellm_command(
            MODEL.name, api_key=API_KEY, cache_dir=self.cache_dir,
            on_progress=lambda m: say(f"{NAME}: {m}"),
        )  # fmt: skip
        self.empty_redis()
        proxy = litellm_gateway(
            command, port=ephemeral_port(), provider_url=self.provider_url,
            redis_url=self.redis_url, work_dir=self.work, log_dir=self.log_dir,
        )  # fmt: skip
        guard = _start(running, proxy, LITELLM_START_TIMEOUT_S)
        children = child_pids(guard)
        if len(children) != 1:
            raise RuntimeError(f"litellm: its guard runs {len(children)} processes, not one")
        return proxy.url, children[0]

    def empty_redis(self) -> None:
        """Forget what an earlier target left in Redis."""
        with redis.Redis.from_url(self.redis_url) as client:
            client.flushall()


def warm_cache(url: str) -> None:
    """Send each of ``HIT_PROMPTS`` once, as the load will, so that the gateway caches it."""
    for prompt_id in range(HIT_PROMPTS.size):
        spec = RequestSpec(TENANT, API_KEY, HIT_PROMPTS.text(prompt_id), MODEL.name, MAX_TOKENS)
        built = endpoint("chat").build(spec)
        request = urllib.request.Request(  # noqa: S310 - a loopback URL of ours
            url + built.path, data=built.body, headers=dict(built.headers), method=built.method
        )
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:  # noqa: S310
            response.read()


def run(options: BenchOptions) -> BenchReport:
    """Every target against one provider and one Redis of our own, all stopped after."""
    parameters = OverheadParameters.for_run(quick=options.quick)
    config = StackConfig.from_env(options.log_dir)
    with tempfile.TemporaryDirectory(prefix="meltproof-overhead-") as scratch, ExitStack() as deps:
        work = Path(scratch)
        provider_config = work / "provider.json"
        provider_config.write_text(ProviderConfig(models=(MODEL,)).model_dump_json())
        provider = PythonService(
            "provider", "stack.provider", port=ephemeral_port(), log_dir=options.log_dir,
            args=["--config", str(provider_config)],
        )  # fmt: skip
        provider_pid = _start(deps, provider)
        binary = find_redis_server(config.redis_server)
        redis_server = RedisServer(binary, port=ephemeral_port(), log_dir=options.log_dir)
        bench = _Bench(
            parameters, provider.url, provider_pid, redis_server.url, _start(deps, redis_server),
            work, options.log_dir, config.cache_dir,
        )  # fmt: skip
        direct = bench.climb("direct", lambda _: (provider.url, provider_pid), p99_limit_s=None)
        baseline = _baseline(direct)
        if direct.could_not_run or baseline is None or not math.isfinite(baseline.p99_s):
            raise RuntimeError(f"the provider could not be measured: {direct.could_not_run}")
        p99_limit_s = P99_LIMIT_FACTOR * baseline.p99_s
        say(
            f"{NAME}: step limit: p99 < {ms(p99_limit_s)} ms (2 x the provider's at"
            f" {baseline.rate_rps:,}/s)"
        )
        outcomes = {
            "direct": direct,
            "passthrough": bench.climb(
                "passthrough", bench.start_passthrough, p99_limit_s=p99_limit_s
            ),
            "gateway_miss": bench.climb(
                "gateway_miss", lambda r: bench.start_gateway(r, "gateway_miss"),
                p99_limit_s=p99_limit_s,
            ),
            "gateway_hit": bench.climb(
                "gateway_hit", lambda r: bench.start_gateway(r, "gateway_hit"),
                p99_limit_s=p99_limit_s, prompts=HIT_PROMPTS, prepare=warm_cache,
            ),
            "gateway_miss_2w": bench.climb(
                "gateway_miss_2w", lambda r: bench.start_gateway(r, "gateway_miss_2w", WORKERS),
                p99_limit_s=p99_limit_s, workers=WORKERS,
            ),
            "litellm": bench.climb("litellm", bench.start_litellm, p99_limit_s=p99_limit_s),
        }  # fmt: skip
    return report(parameters, outcomes, p99_limit_s, cores=os.cpu_count() or 1)


STEP_HEADERS = [
    "target", "rate/s", "achieved/s", "p50 ms", "p99 ms", "Δp50 ms", "Δp99 ms", "errors",
    "CPU µs/req", "CPU s/s gen", "prov", "redis", "target", "Σ", "others", "ran out",
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
    top = bool(outcome.steps) and all(s.passes(p99_limit_s) for s in outcome.steps)
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
        note or ("passed every step (capacity is at least the top rate)" if top else ""),
    ]


def report(
    parameters: OverheadParameters,
    outcomes: Mapping[str, TargetOutcome],
    p99_limit_s: float,
    *,
    cores: int = 2,
) -> BenchReport:
    """The tables, the figures and the verdict; it passes when every check is met."""
    checks = evaluate(outcomes, p99_limit_s, cores=cores)
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
        " rest of the machine; ran out: a"
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
        },
        verdict=verdict,
        passed=all(c.passed is True for c in checks),
        tables=[steps, targets, "Checks\n" + "\n".join(c.line() for c in checks)],
    )


def _parameters(parameters: OverheadParameters) -> dict[str, Any]:
    gateway = gateway_args(provider_url="PROVIDER", redis_url="REDIS", config=Path("CONFIG"))
    return {
        "ladders_rps": {t: list(parameters.ladder(t)) for t in ("direct", "others", "litellm")},
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


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.bench.gateway_overhead --load JSON``: one run, as JSON on stdout."""
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=main.__doc__)
    parser.add_argument("--load", required=True, help="a FixedRateLoad as JSON")
    args = parser.parse_args(argv)
    sys.stdout.write(json.dumps(run_here(FixedRateLoad.from_json(args.load))) + "\n")


BENCHMARK = Benchmark(
    NAME,
    "latency and capacity of our gateway against the provider, a bare pass-through and LiteLLM",
    run,
)

if __name__ == "__main__":
    main()
