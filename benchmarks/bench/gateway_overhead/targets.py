"""The gateway overhead benchmark's targets: starting each, warming it, climbing its ladder."""

from __future__ import annotations

import dataclasses
import json
import os
import time
import urllib.request
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import redis

from stack.errors import StackError
from stack.ports import ephemeral_port
from stack.process import child_pids
from stack.process_usage import process_usage
from stack.python_service import PythonService
from stack.service import Service

from ...endpoints import RequestSpec, endpoint
from ...popularity import PromptCatalogue
from ...summary import Summary
from ..common import ms, say
from ..litellm_proxy import litellm_command, litellm_gateway
from .gateway import gateway_args, gateway_config
from .load import FixedRateLoad, run_in_child
from .parameters import (
    API_KEY,
    HIT_PROMPTS,
    MAX_TOKENS,
    MISS_PROMPTS,
    MODEL,
    NAME,
    REQUEST_TIMEOUT_S,
    TENANT,
    OverheadParameters,
)
from .rounds import CPU_RATES_RPS, CpuRound
from .steal import StealWatch
from .steps import Step, TargetOutcome, busy_line, climb_ladder, stolen_cell


START_TIMEOUT_S = 30.0
RETRY_SEED_STRIDE = 1_000_000
"""A ladder step run once more draws prompts of its own (its seed, the rate, plus this): on the
first run's prompts, a cache miss's second run would find every answer cached."""
LITELLM_START_TIMEOUT_S = 180.0
Start = Callable[[ExitStack], tuple[str, int]]
"""Starts a target, stopped when the stack closes: its URL and the pid to measure."""


@dataclass(frozen=True)
class RoundTarget:
    """A target of the alternated CPU rounds: how it starts, its prompts, what runs before
    each of its steps."""

    name: str
    start: Start
    prompts: PromptCatalogue = MISS_PROMPTS
    prepare: Callable[[str], None] | None = None


def start_service(running: ExitStack, service: Service, timeout_s: float = START_TIMEOUT_S) -> int:
    """Start ``service``, stopped when ``running`` closes; its pid."""
    running.callback(service.stop)
    service.launch()
    info = service.wait_ready(time.monotonic() + timeout_s)
    if info.pid is None:
        raise RuntimeError(f"{info.name}: started but its pid is unknown")
    return info.pid


@dataclass(frozen=True)
class Testbed:
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
        start: Start,
        *,
        p99_limit_s: float | None,
        prompts: PromptCatalogue = MISS_PROMPTS,
        prepare: Callable[[str], None] | None = None,
        workers: int = 1,
    ) -> TargetOutcome:
        """Start a target (of ``workers`` serving processes), warm it, climb its ladder until
        a rate fails (``climb_ladder``), stop it.

        ``p99_limit_s`` None climbs the whole ladder. ``prepare(url)`` runs before each run.
        """
        steps: list[Step] = []
        try:
            with ExitStack() as running:
                url, pid = start(running)
                warmup_rps, warmup_s = self.parameters.warmup(name)
                say(f"{NAME}: {name}: warming up at {warmup_rps:,}/s for {warmup_s:g} s")
                if prepare:
                    prepare(url)
                run_in_child(FixedRateLoad(url, warmup_rps, warmup_s, prompts, 0))

                def run(rate: int, attempt: int) -> Step:
                    if prepare:
                        prepare(url)
                    label = f"{name} (once more: {_why_again(steps[-1])})" if attempt else name
                    seed = rate + RETRY_SEED_STRIDE * attempt
                    step = self._step(label, url, pid, rate, prompts, seed=seed)
                    return dataclasses.replace(step, target_workers=workers)

                climb_ladder(self.parameters.ladder(name), run, p99_limit_s, steps)
        except (StackError, RuntimeError, OSError, redis.RedisError) as exc:  # a failed install too
            say(f"{NAME}: {name}: could not run: {exc}")
            return TargetOutcome(name, tuple(steps), could_not_run=str(exc))
        return TargetOutcome(name, tuple(steps))

    def alternate(self, targets: Sequence[RoundTarget], rounds: int) -> tuple[CpuRound, ...]:
        """Start every target once and warm it, then ``rounds`` times, at each of
        ``CPU_RATES_RPS``, one step of each target in turn; each round draws prompts of its
        own. A target that cannot start or run ends the rounds: those completed are returned."""
        measured: list[CpuRound] = []
        try:
            with ExitStack() as running:
                started = {target.name: target.start(running) for target in targets}
                for target in targets:
                    url, _ = started[target.name]
                    say(f"{NAME}: rounds: warming {target.name} at {CPU_RATES_RPS[0]:,}/s")
                    if target.prepare:
                        target.prepare(url)
                    warmup = FixedRateLoad(
                        url, CPU_RATES_RPS[0], self.parameters.warmup_s, target.prompts, 0
                    )
                    run_in_child(warmup)
                for index in range(1, rounds + 1):
                    steps: dict[str, list[Step]] = {target.name: [] for target in targets}
                    for rate in CPU_RATES_RPS:
                        for target in targets:
                            url, pid = started[target.name]
                            if target.prepare:
                                target.prepare(url)
                            label = f"{target.name} (round {index} of {rounds})"
                            step = self._step(
                                label, url, pid, rate, target.prompts, seed=1000 * index + rate
                            )
                            steps[target.name].append(step)
                    measured.append(
                        {name: TargetOutcome(name, tuple(ladder)) for name, ladder in steps.items()}
                    )
        except (StackError, RuntimeError, OSError, redis.RedisError) as exc:
            say(f"{NAME}: rounds: could not run: {exc}")
        return tuple(measured)

    def _step(
        self,
        name: str,
        url: str,
        pid: int,
        rate: int,
        prompts: PromptCatalogue,
        *,
        seed: int | None = None,
    ) -> Step:
        """One measured run, with the CPU of every process and the target's memory; its
        prompts are drawn with ``seed`` (by default the rate)."""
        duration_s = self.parameters.duration_s
        say(f"{NAME}: {name}: {rate:,} requests/s for {duration_s:g} s")
        watched = {"target": pid, "redis": self.redis_pid}
        if self.provider_pid != pid:
            watched["provider"] = self.provider_pid
        before = {process: process_usage(p) for process, p in watched.items()}
        load = FixedRateLoad(url, rate, duration_s, prompts, seed=rate if seed is None else seed)
        with StealWatch() as steal:
            result = run_in_child(load)
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
            stolen=steal.stolen,
        )
        say(
            f"{NAME}:   p50 {ms(step.p50_s)} ms, p99 {ms(step.p99_s)} ms, errors {step.errors:,},"
            f" CPU s/s {busy_line(step)}"
            + (" (short)" if step.shortfall else "")
            + (f" (disturbed: {stolen_cell(step)} s stolen)" if step.disturbed else "")
        )
        return step

    def start_passthrough(self, running: ExitStack) -> tuple[str, int]:
        """The pass-through to the provider."""
        service = PythonService(
            "passthrough", "benchmarks.bench.passthrough_server", port=ephemeral_port(),
            log_dir=self.log_dir, args=["--upstream", self.provider_url],
        )  # fmt: skip
        return service.url, start_service(running, service)

    def start_gateway(
        self, running: ExitStack, name: str, workers: int = 1, source: Path | None = None
    ) -> tuple[str, int]:
        """A fresh gateway of ``workers`` on an empty Redis, logging to ``<name>.log``; the pid
        measured is its first process's (its workers are its children). ``source``: a source
        tree whose gateway runs instead of this one."""
        self.empty_redis()
        config = self.work / "gateway.json"
        config.write_text(json.dumps(gateway_config()))
        args = gateway_args(
            provider_url=self.provider_url, redis_url=self.redis_url, config=config, workers=workers
        )
        service = PythonService(
            name, "reference_impl", port=ephemeral_port(), log_dir=self.log_dir, args=args,
            source=source,
        )  # fmt: skip
        return service.url, start_service(running, service)

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
        guard = start_service(running, proxy, LITELLM_START_TIMEOUT_S)
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


def _why_again(first: Step) -> str:
    """Why ``climb_ladder`` runs a rate whose first step was ``first`` once more."""
    return "the hypervisor took the cores" if first.disturbed else "only its p99 failed"
