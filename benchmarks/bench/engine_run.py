"""One run of our open-loop engine in a fresh process, reported as JSON on stdout.

Benchmarks start this module as a child process for every measurement, so that no run
inherits another's heap, connections or JIT-free warm caches, and so that the CPU time it
reports (``time.process_time`` around the run) is the engine's alone:

``python -m benchmarks.bench.engine_run --url URL --rate-rps R --duration-s D``

The load is one process, regular arrivals at a constant rate, the ``chat`` endpoint, and one
prompt, so every request is the same bytes (``bench_request`` builds them for other tools).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

from ..arrivals import Arrivals, Constant
from ..endpoints import HttpRequest, RequestSpec, endpoint
from ..event_loop import run_with_fast_loop
from ..plan import LoadPlan, LoadResult
from ..popularity import PromptCatalogue
from ..runner import run_load
from ..summary import Summary
from ..target import Target
from ..workload import TenantShare, Workload
from .common import run_json_child


MODULE = "benchmarks.bench.engine_run"
API_KEY = "sk-bench"
TENANT = "default"
ENDPOINT = "chat"
PROMPTS = PromptCatalogue(templates=1, entities=1)


@dataclass(frozen=True)
class EngineLoad:
    """What one engine run sends, and where."""

    url: str
    rate_rps: float
    duration_s: float
    model: str = "gpt-4o-mini"
    max_tokens: int = 16

    def workload(self) -> Workload:
        """Regular arrivals at ``rate_rps``, one tenant, one endpoint, one prompt."""
        return Workload(
            arrivals=Arrivals(Constant(self.rate_rps), "regular"),
            tenants=(TenantShare(TENANT, 1.0),),
            prompts=PROMPTS,
            model=self.model,
            max_tokens=self.max_tokens,
            seed=0,
        )

    def plan(self) -> LoadPlan:
        """The load plan of one process."""
        return LoadPlan(self.workload(), self.duration_s, Target(self.url, api_key=API_KEY))

    def argv(self) -> list[str]:
        """The command line that runs this load in a child process."""
        return [
            sys.executable, "-m", MODULE, "--url", self.url,
            "--rate-rps", f"{self.rate_rps:g}", "--duration-s", f"{self.duration_s:g}",
            "--model", self.model, "--max-tokens", str(self.max_tokens),
        ]  # fmt: skip


def bench_request(model: str, max_tokens: int) -> HttpRequest:
    """The request every scheduled request of an ``EngineLoad`` sends, byte for byte."""
    spec = RequestSpec(
        tenant=TENANT, api_key=API_KEY, prompt=PROMPTS.text(0), model=model, max_tokens=max_tokens
    )
    return endpoint(ENDPOINT).build(spec)


@dataclass(frozen=True)
class EngineRun:
    """What one run measured: the summary, the shortfall if any, the generator's CPU."""

    summary: Summary
    shortfall: str | None
    cpu_s: float
    loop: str

    @property
    def cpu_us_per_request(self) -> float:
        """Generator CPU per scheduled request, in microseconds."""
        return 1e6 * self.cpu_s / max(self.summary.scheduled, 1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "summary": self.summary.to_dict(),
            "shortfall": self.shortfall,
            "cpu_s": self.cpu_s,
            "loop": self.loop,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EngineRun:
        """Back from ``to_dict``."""
        return cls(
            Summary.from_dict(data["summary"]), data["shortfall"], data["cpu_s"], data["loop"]
        )


def run_in_child(load: EngineLoad) -> EngineRun:
    """Run ``load`` in a fresh process; its stderr passes through."""
    data = run_json_child(load.argv(), duration_s=load.duration_s, what=f"the engine run {load}")
    return EngineRun.from_dict(data)


def run_here(load: EngineLoad) -> EngineRun:
    """Run ``load`` on a fresh fast event loop in this process."""
    plan = load.plan()

    async def measured() -> tuple[LoadResult, float, str]:
        loop = type(asyncio.get_running_loop())
        cpu_before = time.process_time()
        result = await run_load(plan)
        return result, time.process_time() - cpu_before, f"{loop.__module__}.{loop.__name__}"

    result, cpu_s, loop = run_with_fast_loop(measured())
    summary = Summary.of(result.table, result.itl, plan.duration_s)
    return EngineRun(summary, result.shortfall(), cpu_s, loop)


def main(argv: list[str] | None = None) -> None:
    """Parse the load, run it, print the ``EngineRun`` as JSON."""
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__)
    parser.add_argument("--url", required=True, help="base URL of the target")
    parser.add_argument("--rate-rps", type=float, required=True, help="requests per second")
    parser.add_argument("--duration-s", type=float, required=True, help="seconds of load")
    parser.add_argument("--model", default=EngineLoad.model, help="model in the request body")
    parser.add_argument("--max-tokens", type=int, default=EngineLoad.max_tokens)
    args = parser.parse_args(argv)
    load = EngineLoad(args.url, args.rate_rps, args.duration_s, args.model, args.max_tokens)
    sys.stdout.write(json.dumps(run_here(load).to_dict()) + "\n")


if __name__ == "__main__":
    main()
