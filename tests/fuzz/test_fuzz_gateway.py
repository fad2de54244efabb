"""Hostile input against a two-worker hardened gateway on the real stack: every reply is JSON
(or well-formed events, or Prometheus text for an authorised scrape), never a 5xx, never
late; no worker restarts, worker memory stays bounded, and the canary put into every prompt
is found in neither the gateway's log, nor Redis, nor PostgreSQL, nor its metrics."""

from __future__ import annotations

import asyncio
import json
import secrets
import urllib.request
from pathlib import Path

import pytest
import redis
from fuzz_leaks import in_files, in_postgres, in_redis, in_text
from fuzz_plan import hand_made, plan
from fuzz_probes import Context
from fuzz_run import Outcome, fire
from fuzz_settings import FuzzSettings, requested_count
from fuzz_stack import FuzzGateway, fuzz_gateway
from fuzz_summary import Summary, write
from fuzz_wire import Probe


CONCURRENCY = 8
DEADLINE_S = 20.0
"""Longest a reply may take: the gateway's own deadlines (1.5 s to the first byte, 5 s of
stream silence, the copilot's database budgets) end every answer far sooner, even on a
loaded 2-core machine; a reply still missing then is a hang."""
WARMUP_REQUESTS = 150
"""Sent first, so that memory is measured from a worker that has seen every kind of request."""
CHAT_MODELS = ("gpt-4o", "gpt-4o-mini", "local-llm")
EMBEDDING_MODELS = ("text-embedding-3-small", "text-embedding-3-large")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(180 + requested_count() // 20),
]


def _context(gateway: FuzzGateway, canary: str) -> Context:
    keys = dict(gateway.keys)
    return Context(
        canary=canary,
        host=f"{gateway.host}:{gateway.port}",
        keys=tuple(keys.values()),
        chat_models=CHAT_MODELS,
        embedding_models=EMBEDDING_MODELS,
        pipelines={key: gateway.pipelines.get(tenant, ()) for tenant, key in keys.items()},
        candidates={key: gateway.candidates.get(tenant, ()) for tenant, key in keys.items()},
        metrics_token=gateway.metrics_token,
    )


def _get(gateway: FuzzGateway, path: str, headers: dict[str, str] | None = None) -> bytes:
    url = f"http://{gateway.host}:{gateway.port}{path}"
    with urllib.request.urlopen(
        urllib.request.Request(url, headers=headers or {}), timeout=10
    ) as r:
        return bytes(r.read())


def _scrape(gateway: FuzzGateway) -> str:
    token = gateway.metrics_token
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return _get(gateway, "/metrics", headers).decode()


def _fire(gateway: FuzzGateway, probes: list[Probe]) -> Outcome:
    return asyncio.run(
        fire(gateway.host, gateway.port, probes, concurrency=CONCURRENCY, deadline_s=DEADLINE_S)
    )


def _canary_hits(gateway: FuzzGateway, canary: str) -> dict[str, list[str]]:
    endpoints = gateway.stack.endpoints
    return {
        "logs": in_files([gateway.log], canary),
        "redis": in_redis(
            lambda db: redis.Redis.from_url(endpoints.redis, db=db, socket_timeout=10), canary
        ),
        "postgres": in_postgres(endpoints.postgres, canary),
        "metrics": in_text("/metrics", _scrape(gateway), canary),
    }


def test_fuzz_hostile_requests_get_json_and_leave_no_trace(
    fuzz_settings: FuzzSettings, report_figures: list[str]
) -> None:
    canary = f"canary-{secrets.token_hex(12)}"
    with fuzz_gateway(fuzz_settings.run_dir / "stack") as gateway:
        ctx = _context(gateway, canary)
        document = json.loads(_get(gateway, "/openapi.json"))
        probes = plan(document, fuzz_settings.requests, fuzz_settings.seed, ctx)
        warmup_probes = hand_made(WARMUP_REQUESTS, fuzz_settings.seed + 1, ctx)

        warmup = _fire(gateway, warmup_probes)
        pids_before, rss_before = gateway.worker_pids(), gateway.worker_rss()
        load_average = Path("/proc/loadavg").read_text().strip()
        outcome = _fire(gateway, probes)
        pids_after, rss_after = gateway.worker_pids(), gateway.worker_rss()
        summary = Summary(
            outcome=outcome,
            warmup=warmup,
            seed=fuzz_settings.seed,
            concurrency=CONCURRENCY,
            deadline_s=DEADLINE_S,
            pids_before=pids_before,
            pids_after=pids_after,
            restart_lines=gateway.restarts_logged(),
            error_lines=gateway.errors_logged(),
            rss_before=rss_before,
            rss_after=rss_after,
            canary=canary,
            canary_hits=_canary_hits(gateway, canary),
            load_average_before=load_average,
            failures_file=fuzz_settings.run_dir / "failures.jsonl",
        )
    path = write(summary, fuzz_settings.run_dir)
    report_figures.extend([*summary.figures(), f"summary: {path}"])

    assert len(pids_before) == 2, pids_before
    verdicts = summary.verdicts()
    assert not verdicts, "\n".join([*verdicts, f"reproductions: {summary.failures_file}"])
