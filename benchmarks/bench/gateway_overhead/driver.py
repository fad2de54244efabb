"""One run of the gateway overhead benchmark: the provider, Redis, and every target in turn."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from stack.config import StackConfig
from stack.ports import ephemeral_port
from stack.provider.config import ProviderConfig
from stack.python_service import PythonService
from stack.redis_server import RedisServer, find_redis_server

from ..common import BenchOptions, BenchReport, ms, say
from .parameters import HIT_PROMPTS, MODEL, NAME, WORKERS, OverheadParameters
from .report import report
from .steps import P99_LIMIT_FACTOR, baseline_step
from .targets import RoundTarget, Testbed, start_service, warm_cache


@contextmanager
def testbed(parameters: OverheadParameters, log_dir: Path) -> Iterator[Testbed]:
    """One provider and one Redis of our own, and a scratch directory; all gone after."""
    config = StackConfig.from_env(log_dir)
    with tempfile.TemporaryDirectory(prefix="meltproof-overhead-") as scratch, ExitStack() as deps:
        work = Path(scratch)
        provider_config = work / "provider.json"
        provider_config.write_text(ProviderConfig(models=(MODEL,)).model_dump_json())
        provider = PythonService(
            "provider", "stack.provider", port=ephemeral_port(), log_dir=log_dir,
            args=["--config", str(provider_config)],
        )  # fmt: skip
        provider_pid = start_service(deps, provider)
        binary = find_redis_server(config.redis_server)
        redis_server = RedisServer(binary, port=ephemeral_port(), log_dir=log_dir)
        yield Testbed(
            parameters, provider.url, provider_pid, redis_server.url,
            start_service(deps, redis_server), work, log_dir, config.cache_dir,
        )  # fmt: skip


def run(options: BenchOptions) -> BenchReport:
    """Every target against one provider and one Redis of our own, all stopped after."""
    parameters = OverheadParameters.for_run(quick=options.quick)
    with testbed(parameters, options.log_dir) as bench:
        provider_url, provider_pid = bench.provider_url, bench.provider_pid
        direct = bench.climb("direct", lambda _: (provider_url, provider_pid), p99_limit_s=None)
        baseline = baseline_step(direct)
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
        }  # fmt: skip
        rounds = bench.alternate(
            (
                RoundTarget("passthrough", bench.start_passthrough),
                RoundTarget("gateway_miss", lambda r: bench.start_gateway(r, "rounds_miss")),
                RoundTarget(
                    "gateway_hit", lambda r: bench.start_gateway(r, "rounds_hit"),
                    prompts=HIT_PROMPTS, prepare=warm_cache,
                ),
            ),
            parameters.cpu_rounds,
        )  # fmt: skip
        outcomes["litellm"] = bench.climb("litellm", bench.start_litellm, p99_limit_s=p99_limit_s)
    return report(parameters, outcomes, rounds, p99_limit_s, cores=os.cpu_count() or 1)
