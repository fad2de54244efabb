"""Run one scenario: bring the target up, probe steady state, load with faults, check, report.

1. The target (``wiring``): our gateway, or a command or built-in peer wired through the
   links, on a stack of the run's own with the scenario's provider config, one tenant (and
   key) per workload tenant for ours, and the copilot corpus when the workload clicks copilot
   endpoints; or a gateway at a URL, bare, or pointed at the links of a stack that
   ``meltproof up --no-gateway`` runs (whose provider takes the scenario's config for the
   run). A scenario that asks for what the target lacks is refused before anything starts
   (``UnfitTargetError``).
2. The steady-state probe must pass, else the run stops (``SteadyStateError``).
3. The provider's counters are reset and (our own) Redis is emptied, so that the ground truth
   and the cache belong to this run; then the load runs open-loop (this machine's engine or
   Locust workers) with the fault timeline beside it, on the same time zero. Every fault is
   healed in a ``finally`` (``faults.run_timeline``).
4. The provider's ground truth is read, the probe runs again, the history is stored with
   everything checks need (also when the generator fell behind or a heal failed: those become
   ``unknown`` verdicts), the checks run and the reports are written.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import redis

from benchmarks.engine import Progress
from benchmarks.errors import BenchmarkError
from benchmarks.event_loop import run_with_fast_loop
from benchmarks.history import write_history
from benchmarks.plan import LoadPlan, LoadResult
from benchmarks.target import Target
from faults import FaultCleanupError, FaultContext, FaultError, FaultRecord, run_timeline
from stack import Stack, StackConfig, start_stack
from stack.errors import StackError
from stack.gateway_command import GatewayCommand
from stack.jaeger import TraceQueryError
from stack.peers import peer_command
from stack.process_usage import process_usage

from .checks import NOT_APPLICABLE, CheckResult, evaluate_all
from .checks.run_verdict import verdict_of
from .corpus_setup import load_corpus, needs_corpus
from .harness_checks import harness_results
from .load_engines import AsyncioEngine, LoadEngine, run_with_engine
from .probe import probe
from .provenance import code_provenance
from .redaction import stored_scenario
from .report import ReportPaths, write_reports
from .run_record import RUN_KEY, RunRecord
from .schema import ScenarioSpec, SuiteError, UnfitTargetError
from .stored_run import StoredRun, read_run
from .target_setup import command_of, foreign_api_keys, gateway_config, peer_routes, provider_config
from .traces import SLOWEST, RunTraces, collect_traces
from .wiring import Wiring, stack_wiring, target_facts, url_wiring


Say = Callable[[str], None]


class SteadyStateError(Exception):
    """The target did not meet the steady-state checks before any fault."""


class HarnessError(Exception):
    """The harness could not run the scenario (not a verdict on the target)."""


HARNESS_ERRORS: tuple[type[BaseException], ...] = (
    HarnessError,
    SuiteError,
    StackError,
    FaultError,
    BenchmarkError,
    redis.RedisError,
    psycopg.Error,
    OSError,
)
"""What stops a run without a verdict on the target (exit status 3)."""


@dataclass(frozen=True)
class RunOutcome:
    """A finished scenario run: the stored run, the verdicts and the report files."""

    run: StoredRun
    results: list[CheckResult]
    reports: ReportPaths

    @property
    def verdict(self) -> str:
        """``pass``, ``fail`` or ``unknown``."""
        return verdict_of(self.results)


@dataclass(frozen=True)
class RunOptions:
    """How to run: where to write, and what the command line changed."""

    out_dir: Path
    profile: str | None = None
    workers: int | None = None
    gateway_source: Path | None = None
    """A source tree whose gateway runs instead of the installed one (a baseline's code)."""
    engine: LoadEngine = field(default_factory=AsyncioEngine)
    """What sends the load: this machine's asyncio engine, or Locust master and workers."""
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    traces: bool = False
    """Start the stack's traces receiver, send every request with a sampled W3C
    ``traceparent``, and keep the spans of the slowest requests with the run."""


def all_results(spec: ScenarioSpec, run: StoredRun) -> list[CheckResult]:
    """The scenario's checks over ``run``, then the harness's own verdicts."""
    return evaluate_all(spec.checks, run) + harness_results(run)


def run_scenario(
    spec: ScenarioSpec,
    options: RunOptions,
    *,
    say: Say = lambda _message: None,
    progress: Progress | None = None,
) -> RunOutcome:
    """Run ``spec`` end to end (see the module docstring) on a stack of its own."""
    _claim(options.out_dir)
    with scenario_stack(spec, options, say=say) as stack:
        return _run(spec, options, stack, say, progress)


def run_on_stack(
    spec: ScenarioSpec,
    options: RunOptions,
    stack: Stack | None,
    *,
    say: Say = lambda _message: None,
    progress: Progress | None = None,
) -> RunOutcome:
    """Run ``spec`` on a stack that ``scenario_stack`` started for it (runs repeated on one
    stack, such as a comparison's); the provider's counters and Redis are reset first."""
    _claim(options.out_dir)
    return _run(spec, options, stack, say, progress)


def _claim(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise HarnessError(f"{out_dir} exists; runs are never overwritten") from None


@contextlib.contextmanager
def scenario_stack(
    spec: ScenarioSpec, options: RunOptions, *, say: Say = lambda _message: None
) -> Iterator[Stack | None]:
    """The stack ``spec`` runs on, stopped on exit; None for a ``url`` target.

    A fault on a link the target does not use is refused before anything starts.
    """
    target = spec.target
    if target.url is not None:
        if options.traces:
            raise HarnessError(
                f"{spec.name}: traces need a stack that meltproof starts, with the target on it"
                " (our gateway, a command or a peer), not a url target"
            )
        yield None
        return
    if needs_corpus(spec) and target.gateway is None:
        raise UnfitTargetError(
            f"{spec.name} clicks the copilot endpoints, which only meltproof's gateway serves"
        )
    if needs_corpus(spec) and options.environ.get("DATABASE_URL"):
        raise HarnessError(
            f"{spec.name} loads the copilot corpus, which replaces the copilot's tables; it runs "
            "only on a PostgreSQL that meltproof starts (unset DATABASE_URL)"
        )
    options.out_dir.mkdir(parents=True, exist_ok=True)
    command = _command_of(spec, options, say)
    config = StackConfig.from_env(
        options.out_dir / "stack",
        environ=options.environ,
        provider_config=provider_config(spec, options.out_dir),
        traces=options.traces,
        **(_ours(spec, options) if command is None else {"gateway_command": command}),
    )
    with start_stack(config, progress=say) as stack:
        if needs_corpus(spec):
            say("loading the copilot corpus")
            load_corpus(spec, stack.endpoints.postgres)
        yield stack


def _command_of(spec: ScenarioSpec, options: RunOptions, say: Say) -> GatewayCommand | None:
    """The command that starts a command or peer target (None: our gateway)."""
    target = spec.target
    if target.command is not None:
        return command_of(target.command, options.environ)
    if target.peer is not None:
        try:
            return peer_command(
                target.peer, peer_routes(spec), environ=options.environ, on_progress=say
            )
        except ValueError as exc:
            raise SuiteError(f"{spec.name}: peer {target.peer}: {exc}") from None
    return None


def _ours(spec: ScenarioSpec, options: RunOptions) -> dict[str, Any]:
    """The stack settings of our gateway in the scenario's (or the command line's) profile."""
    gateway = spec.target.gateway
    assert gateway is not None  # noqa: S101 - only called for our gateway
    config_path, keys = gateway_config(spec, options.out_dir)
    return {
        "gateway_profile": options.profile or gateway.profile,
        "gateway_workers": options.workers or gateway.workers,
        "gateway_config": config_path,
        "gateway_api_keys": keys,
        "gateway_source": options.gateway_source,
    }


def _wiring(spec: ScenarioSpec, options: RunOptions, stack: Stack | None) -> Wiring:
    """Where the load goes and what the run sees behind it."""
    tenants = [t.name for t in spec.workload.tenants]
    if stack is None:
        return url_wiring(spec, foreign_api_keys(spec, options.environ), Path.cwd())
    command = stack.gateway_command
    keys = command.auth.keys_for(tenants) if command else stack.api_keys
    return stack_wiring(stack, keys)


def _run(
    spec: ScenarioSpec,
    options: RunOptions,
    stack: Stack | None,
    say: Say,
    progress: Progress | None,
) -> RunOutcome:
    wiring = _wiring(spec, options, stack)
    with _scenario_provider(spec, wiring, say):
        return _run_wired(spec, options, stack, wiring, say, progress)


@contextlib.contextmanager
def _scenario_provider(spec: ScenarioSpec, wiring: Wiring, say: Say) -> Iterator[None]:
    """On a stack another process runs, the scenario's provider config for the run's length,
    the stack's own restored afterwards (a stack this run started has it from the start)."""
    if not wiring.attached or wiring.provider is None or spec.provider is None:
        yield
        return
    provider = wiring.provider
    previous = provider.config()
    say("the stack's provider takes the scenario's config for the run")
    provider.set_config(spec.provider.model_dump(mode="json"))
    try:
        yield
    finally:
        provider.set_config(previous)


def _run_wired(
    spec: ScenarioSpec,
    options: RunOptions,
    stack: Stack | None,
    wiring: Wiring,
    say: Say,
    progress: Progress | None,
) -> RunOutcome:
    """The run itself, once the target is wired (see the module docstring)."""
    plan = LoadPlan(
        workload=spec.workload.build(seed=spec.seed, api_keys=dict(wiring.api_keys)),
        duration_s=spec.duration_s,
        target=Target(
            wiring.base_url,
            timeout_s=spec.target.timeout_s,
            headers=wiring.headers,
            traceparent=options.traces,
        ),
    )
    steady: dict[str, Any] = {}
    scenario = stored_scenario(spec)
    target = scenario["target"]
    if spec.steady_state.enabled:
        say("steady state: probing before the load")
        steady["before"] = before = probe(
            plan, spec.steady_state, options.out_dir / "steady_before", target=target
        )
        if before["verdict"] == "fail":
            raise SteadyStateError(_probe_failure(before))
        if before["verdict"] != "pass":
            raise HarnessError(_probe_failure(before))
    _fresh_ground_truth(wiring, stack, say)
    say(f"load: {spec.duration_s:g} s, {len(spec.faults)} fault event(s)")
    cpu_before = _target_cpu_s(wiring)
    result, records, cleanup_error = run_with_fast_loop(
        _load_with_faults(spec, plan, wiring.faults, say, progress, options)
    )
    cpu_after = _target_cpu_s(wiring)
    provider_stats = wiring.provider.stats() if wiring.provider else None
    if spec.steady_state.enabled:
        say("steady state: probing after the load")
        steady["after"] = probe(
            plan, spec.steady_state, options.out_dir / "steady_after", target=target
        )
    ours = stack is not None and stack.gateway_command is None
    recorded = RunRecord(
        scenario=scenario,
        faults=tuple(r.window(result.started_at) for r in records),
        provider=provider_stats,
        prices={name: p.model_dump() for name, p in spec.all_prices().items()},
        steady_state=steady,
        gateway=_gateway_facts(spec, options, stack) if stack and ours else None,
        target=target_facts(spec, stack),
        target_cpu_s=None if cpu_before is None or cpu_after is None else cpu_after - cpu_before,
        services={n: i.version for n, i in stack.services.items()} if stack else {},
        backend=stack.backend if stack else None,
        images={n: asdict(image) for n, image in stack.images.items()} if stack else {},
        harness={"shortfall": result.shortfall(), "fault_cleanup_error": cleanup_error},
        traces=_slowest_traces(result, stack, say) if options.traces else None,
    )
    history_path = options.out_dir / "run"
    write_history(result, history_path, extra={RUN_KEY: recorded.to_dict()})
    run = read_run(history_path)
    results = all_results(spec, run)
    return RunOutcome(run, results, write_reports(run, results))


async def _load_with_faults(
    spec: ScenarioSpec,
    plan: LoadPlan,
    context: FaultContext,
    say: Say,
    progress: Progress | None,
    options: RunOptions,
) -> tuple[LoadResult, list[FaultRecord], str | None]:
    """The load and, from its time zero on, the fault timeline; every fault healed.

    Returns the load, the fault records and, if healing at the end failed, why.
    """
    loop = asyncio.get_running_loop()
    time_zero: asyncio.Future[float] = loop.create_future()

    async def timeline() -> list[FaultRecord]:
        return await run_timeline(
            spec.faults,
            context,
            time_zero=await time_zero,
            duration_s=spec.duration_s,
            on_record=lambda record: say(_describe_record(record)),
        )

    faults = asyncio.create_task(timeline())
    try:
        result = await run_with_engine(
            options.engine,
            plan,
            work_dir=options.out_dir / "locust",
            progress=progress,
            on_start=time_zero.set_result,
            say=say,
        )
    except BaseException:
        faults.cancel()
        with contextlib.suppress(asyncio.CancelledError, FaultCleanupError):
            await faults
        raise
    try:
        return result, await faults, None
    except FaultCleanupError as exc:
        return result, list(exc.records), str(exc)


def _fresh_ground_truth(wiring: Wiring, stack: Stack | None, say: Say) -> None:
    """Zero the provider's counters and empty Redis (only one this run started). The provider
    of a stack another process runs keeps its config and faults (``meltproof fault``'s)."""
    if wiring.provider is not None and wiring.attached:
        wiring.provider.clear_stats()
    elif wiring.provider is not None:
        wiring.provider.reset()
    if stack is None:
        return
    if not stack.controls("redis"):
        say("Redis is an existing server (REDIS_URL): its cache is not emptied before the load")
        return
    with redis.Redis.from_url(stack.endpoints.redis, socket_timeout=5) as client:
        client.flushall()


def _slowest_traces(result: LoadResult, stack: Stack | None, say: Say) -> RunTraces | None:
    """The spans of the slowest requests, from the stack's traces receiver."""
    query = stack.traces if stack is not None else None
    if stack is None or query is None:
        return None
    say(f"traces: reading the spans of the {SLOWEST} slowest requests")
    service = stack.services["jaeger"]
    receiver = f"{service.name} {service.version}"
    try:
        traces = collect_traces(result.table, query, receiver=receiver)
    except TraceQueryError as exc:
        say(f"traces: the receiver could not be read: {exc}")
        traces = RunTraces(receiver, (), problem=f"the receiver could not be read: {exc}")
    return traces


def _gateway_facts(spec: ScenarioSpec, options: RunOptions, stack: Stack) -> dict[str, Any]:
    gateway = spec.target.gateway
    assert gateway is not None  # noqa: S101 - only called for our gateway
    return {
        "profile": options.profile or gateway.profile,
        "workers": options.workers or gateway.workers,
        **code_provenance(stack.services["gateway"].code_path),
    }


def _target_cpu_s(wiring: Wiring) -> float | None:
    """CPU seconds the gateway's process tree has spent so far (None: not started here, or
    gone)."""
    if wiring.gateway_pid is None:
        return None
    try:
        return process_usage(wiring.gateway_pid).cpu_s
    except OSError:
        return None


def _describe_record(record: FaultRecord) -> str:
    target = f" on {record.target}" if record.target else ""
    if record.error:
        return f"fault {record.name}{target}: failed: {record.error}"
    state = "healed" if record.ended_at is not None else "injected"
    return f"fault {record.name}{target}: {state}"


def _probe_failure(outcome: Mapping[str, Any]) -> str:
    failed = [c for c in outcome["checks"] if c["valid"] not in (True, NOT_APPLICABLE)]
    reasons = "; ".join(f"{c['name']}: {c['details']}" for c in failed)
    return (
        f"steady state not met before any fault ({reasons}); the target is not healthy "
        f"even without faults. Probe history: {outcome['path']}"
    )
