"""Gateway overhead: what each gateway adds to the provider's latency, and the rate it holds.

One run starts the simulated provider (one model with a short, steady latency: ``MODEL``) and
a Redis of its own, then loads five targets in turn, each started on a loopback port and
stopped before the next: ``direct`` (the provider itself), ``passthrough`` (a bare aiohttp
pass-through, ``passthrough_server``: the floor for any Python gateway), ``gateway_miss`` and
``gateway_hit`` (our gateway, hardened profile, one worker; every request a new prompt, or
one of a few prompts cached beforehand) and ``litellm`` (the LiteLLM proxy as the built-in
peer of ``stack.peers`` runs it, with its Redis cache, one worker: ``litellm_proxy``). Each
target gets a short warm-up, then fixed rates up its ladder (``OverheadParameters``), each run
by our open-loop engine (one process, regular arrivals, non-streaming chat) in a fresh child
process; the target's CPU and peak RSS (with its child processes; LiteLLM's without the group
guard that runs it) are read from ``/proc`` around each run, and Redis's with them for the
targets that use it.

A step passes when its p99 is below ``P99_LIMIT_FACTOR`` times the provider's own p99 at the
lowest rate, fewer than ``MAX_ERROR_FRACTION`` of its requests failed, and the generator kept
its schedule. A target stops climbing at its first failing step (``direct``, the reference,
climbs its whole ladder); its capacity is its highest passing rate. The checks: ``gateway_miss``
adds at most 2 ms of p99 at 1,000/s, reaches half the capacity of ``passthrough`` and ten
times that of ``litellm``; ``gateway_hit`` holds 2,000/s with p99 at most 5 ms. A target that
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


def gateway_args(*, provider_url: str, redis_url: str, config: Path) -> list[str]:
    """The gateway's command line after ``--host`` and ``--port``: the one place that knows it."""
    return [
        "--provider-url", provider_url, "--redis-url", redis_url, "--profile", "hardened",
        "--config", str(config),
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

    @classmethod
    def for_run(cls, *, quick: bool) -> OverheadParameters:
        """250 to 3,000/s (LiteLLM 25 to 200/s), 10 s a step; ``quick``: 3 rates, 3 s."""
        if quick:
            return cls((250, 1000, 2000), (25, 100), 3.0, 1.0)
        return cls((250, 500, 1000, 1500, 2000, 3000), (25, 50, 100, 150, 200), 10.0, 2.0)

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
    peak_rss_bytes: int
    cache: Mapping[str, int] = field(default_factory=dict)
    """Responses by ``x-cache`` value (``hit``, ``miss``, ...); empty when none had the header."""
    redis_cpu_s: float | None = None
    summary: Mapping[str, Any] = field(default_factory=dict)

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


def evaluate(outcomes: Mapping[str, TargetOutcome], p99_limit_s: float) -> list[Check]:
    """The benchmark's four checks over the targets' outcomes."""
    miss = outcomes["gateway_miss"]
    return [
        _overhead_check(miss, outcomes["direct"], p99_limit_s),
        _capacity_check(miss, outcomes["passthrough"], PASSTHROUGH_SHARE, p99_limit_s),
        _capacity_check(miss, outcomes["litellm"], LITELLM_MULTIPLE, p99_limit_s),
        _hit_check(outcomes["gateway_hit"], p99_limit_s),
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


def _capacity_check(
    miss: TargetOutcome, other: TargetOutcome, factor: float, p99_limit_s: float
) -> Check:
    name = f"gateway_miss capacity >= {factor:g} x {other.name}'s"
    ours, theirs = miss.capacity_rps(p99_limit_s), other.capacity_rps(p99_limit_s)
    if ours is None or theirs is None:
        return Check(name, None, f"not measured ({_why(miss if ours is None else other)})")
    return Check(name, ours >= factor * theirs, f"{ours:,}/s vs {theirs:,}/s")


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
    """Run ``load`` on a fast event loop in this process: its summary, shortfall, cache hits."""
    plan = load.plan()
    result = run_with_fast_loop(run_load(plan))
    cache = result.table.ops["cache"]
    counts = {status.name.lower(): int((cache == status).sum()) for status in CacheStatus}
    return {
        "summary": Summary.of(result.table, result.itl, plan.duration_s).to_dict(),
        "shortfall": result.shortfall(),
        "cache": {} if counts["none"] == len(cache) else counts,
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
        uses_redis: bool = False,
    ) -> TargetOutcome:
        """Start a target, warm it, climb its ladder until a step fails, stop it.

        ``p99_limit_s`` None climbs the whole ladder. ``prepare(url)`` runs before each run.
        With ``uses_redis``, Redis's CPU is measured too.
        """
        steps: list[Step] = []
        try:
            with ExitStack() as running:
                url, pid = start(running)
                ladder = self.parameters.ladder(name)
                say(f"{NAME}: {name}: warming up at {ladder[0]:,}/s")
                if prepare:
                    prepare(url)
                run_in_child(FixedRateLoad(url, ladder[0], self.parameters.warmup_s, prompts, 0))
                for rate in ladder:
                    if prepare:
                        prepare(url)
                    steps.append(self._step(name, url, pid, rate, prompts, uses_redis=uses_redis))
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
        *,
        uses_redis: bool,
    ) -> Step:
        """One measured run, with the CPU and memory of the target (and Redis)."""
        duration_s = self.parameters.duration_s
        say(f"{NAME}: {name}: {rate:,} requests/s for {duration_s:g} s")
        watched = [pid, self.redis_pid] if uses_redis else [pid]
        before = [process_usage(p) for p in watched]
        result = run_in_child(FixedRateLoad(url, rate, duration_s, prompts, seed=rate))
        after = [process_usage(p) for p in watched]
        cpu_s = [a.cpu_s - b.cpu_s for a, b in zip(after, before, strict=True)]
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
            cpu_s=cpu_s[0],
            peak_rss_bytes=after[0].peak_rss_bytes,
            cache=result["cache"],
            redis_cpu_s=cpu_s[1] if uses_redis else None,
            summary=result["summary"],
        )
        say(
            f"{NAME}:   p50 {ms(step.p50_s)} ms, p99 {ms(step.p99_s)} ms, errors {step.errors:,},"
            f" CPU {step.cpu_s / duration_s:.2f} s/s" + (" (short)" if step.shortfall else "")
        )
        return step

    def start_passthrough(self, running: ExitStack) -> tuple[str, int]:
        """The pass-through to the provider."""
        service = PythonService(
            "passthrough", "benchmarks.bench.passthrough_server", port=ephemeral_port(),
            log_dir=self.log_dir, args=["--upstream", self.provider_url],
        )  # fmt: skip
        return service.url, _start(running, service)

    def start_gateway(self, running: ExitStack, name: str) -> tuple[str, int]:
        """A fresh gateway on an empty Redis, logging to ``<name>.log``."""
        self.empty_redis()
        config = self.work / "gateway.json"
        config.write_text(json.dumps(gateway_config()))
        args = gateway_args(provider_url=self.provider_url, redis_url=self.redis_url, config=config)
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
            parameters, provider.url, redis_server.url, _start(deps, redis_server), work,
            options.log_dir, config.cache_dir,
        )  # fmt: skip
        direct = bench.climb("direct", lambda _: (provider.url, provider_pid), p99_limit_s=None)
        if direct.could_not_run or not direct.steps or not math.isfinite(direct.steps[0].p99_s):
            raise RuntimeError(f"the provider could not be measured: {direct.could_not_run}")
        p99_limit_s = P99_LIMIT_FACTOR * direct.steps[0].p99_s
        say(f"{NAME}: step limit: p99 < {ms(p99_limit_s)} ms (2 x the provider's at low load)")
        outcomes = {
            "direct": direct,
            "passthrough": bench.climb(
                "passthrough", bench.start_passthrough, p99_limit_s=p99_limit_s
            ),
            "gateway_miss": bench.climb(
                "gateway_miss", lambda r: bench.start_gateway(r, "gateway_miss"),
                p99_limit_s=p99_limit_s, uses_redis=True,
            ),
            "gateway_hit": bench.climb(
                "gateway_hit", lambda r: bench.start_gateway(r, "gateway_hit"),
                p99_limit_s=p99_limit_s, prompts=HIT_PROMPTS, prepare=warm_cache, uses_redis=True,
            ),
            "litellm": bench.climb(
                "litellm", bench.start_litellm, p99_limit_s=p99_limit_s, uses_redis=True
            ),
        }  # fmt: skip
    return report(parameters, outcomes, p99_limit_s)


STEP_HEADERS = [
    "target", "rate/s", "achieved/s", "p50 ms", "p99 ms", "Δp50 ms", "Δp99 ms", "errors",
    "CPU s/s", "CPU µs/req", "Redis CPU s/s", "peak RSS MiB", "cache hits", "step",
]  # fmt: skip
TARGET_HEADERS = ["target", "capacity/s", "peak RSS MiB", "note"]


def _step_row(name: str, step: Step, direct: TargetOutcome, p99_limit_s: float) -> list[str]:
    reference = direct.step_at(step.rate_rps) if name != direct.name else None
    answered = max(step.requests - step.errors, 1)
    verdict = "pass" if step.passes(p99_limit_s) else "FAIL"
    return [
        name,
        f"{step.rate_rps:,}",
        f"{step.achieved_rps:,.0f}",
        ms(step.p50_s),
        ms(step.p99_s),
        ms(step.p50_s - reference.p50_s) if reference else "-",
        ms(step.p99_s - reference.p99_s) if reference else "-",
        f"{step.errors:,}",
        f"{step.cpu_s / step.duration_s:.2f}",
        f"{1e6 * step.cpu_s / answered:.0f}",
        "-" if step.redis_cpu_s is None else f"{step.redis_cpu_s / step.duration_s:.2f}",
        f"{step.peak_rss_bytes / 2**20:.0f}",
        "-" if (hits := step.cache_hit_fraction) is None else f"{hits:.0%}",
        verdict + (" (short)" if step.shortfall else ""),
    ]


def _target_row(outcome: TargetOutcome, p99_limit_s: float) -> list[str]:
    best = outcome.capacity_rps(p99_limit_s)
    top = bool(outcome.steps) and all(s.passes(p99_limit_s) for s in outcome.steps)
    peak = max((s.peak_rss_bytes for s in outcome.steps), default=0)
    note = (
        f"could not run: {outcome.could_not_run.splitlines()[0]}" if outcome.could_not_run else ""
    )
    return [
        outcome.name,
        "-" if best is None else f"{best:,}" + ("+" if top else ""),
        f"{peak / 2**20:.0f}" if peak else "-",
        note or ("passed every step (capacity is at least the top rate)" if top else ""),
    ]


def report(
    parameters: OverheadParameters, outcomes: Mapping[str, TargetOutcome], p99_limit_s: float
) -> BenchReport:
    """The tables, the figures and the verdict; it passes when every check is met."""
    checks = evaluate(outcomes, p99_limit_s)
    direct = outcomes["direct"]
    met = sum(c.passed is True for c in checks)
    capacities = ", ".join(
        f"{o.name} {'-' if (c := o.capacity_rps(p99_limit_s)) is None else f'{c:,}'}"
        for o in outcomes.values()
    )
    verdict = f"{met} of {len(checks)} checks met; capacity/s: {capacities}"
    steps = format_table(
        STEP_HEADERS,
        [_step_row(o.name, s, direct, p99_limit_s) for o in outcomes.values() for s in o.steps],
        title=f"Steps (Δ: over direct at the same rate; a step passes with p99 < {ms(p99_limit_s)}"
        f" ms, errors < {MAX_ERROR_FRACTION:.0%}, on schedule)",
    )
    targets = format_table(
        TARGET_HEADERS, [_target_row(o, p99_limit_s) for o in outcomes.values()], title="Targets"
    )
    return BenchReport(
        parameters=_parameters(parameters),
        figures={
            "p99_limit_s": p99_limit_s,
            "baseline_p99_s": direct.steps[0].p99_s,
            "checks": [dataclasses.asdict(c) for c in checks],
            "targets": {
                o.name: {
                    "capacity_rps": o.capacity_rps(p99_limit_s),
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
        "machine": f"{os.cpu_count()} cores shared by the generator (one process), the provider,"
        " Redis and the target",
        "generator": "one process, regular arrivals, non-streaming chat, temperature 0",
        "model": MODEL.model_dump(),
        "max_tokens": MAX_TOKENS,
        "miss_prompts": dataclasses.asdict(MISS_PROMPTS),
        "hit_prompts": dataclasses.asdict(HIT_PROMPTS),
        "step_rule": f"p99 < {P99_LIMIT_FACTOR:g} x direct's p99 at its lowest rate, errors <"
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
