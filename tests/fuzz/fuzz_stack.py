"""The gateway under fuzz: the hardened profile on two worker processes, on the real stack
(PostgreSQL with a small copilot corpus, Redis, Toxiproxy, the simulated provider); its
workers' pids and memory, and what its log says."""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import yaml

from stack import Stack, StackConfig, start_stack
from stack.corpus import CorpusSpec, generate
from stack.gateway_config import metrics_token_of
from stack.process_usage import process_tree
from stack.urls import host_and_port


WORKERS = 2
TENANTS = ("fuzz-one", "fuzz-two")
DIMENSIONS = 32
CORPUS = CorpusSpec(
    tenants=len(TENANTS),
    tenant_names=TENANTS,
    pipelines_per_tenant=3,
    candidates_per_pipeline=4,
    chunks=300,
    dimensions=DIMENSIONS,
    clusters=4,
    seed=11,
)
FAST_MODELS = [
    {"name": name, "ttft_ms": 10, "tpot_ms": 1, "jitter": 0.05, "output_tokens_min": 3,
     "output_tokens_max": 8, "slots": 256}
    for name in ("gpt-4o", "gpt-4o-mini", "local-llm")
] + [
    {"name": name, "kind": "embedding", "dimensions": 8, "ttft_ms": 5}
    for name in ("text-embedding-3-small", "text-embedding-3-large")
]  # fmt: skip
"""Quick answers, so the run spends its time on the gateway."""
READY_S = 30.0
RESTART = re.compile(r"worker \d+ exited with")
LISTEN = "0A"


@dataclass(frozen=True)
class FuzzGateway:
    """The running gateway and what the suite inspects of it."""

    stack: Stack
    host: str
    port: int
    keys: dict[str, str]
    """Tenant name -> API key."""
    metrics_token: str | None
    """The /metrics scrape token, as the stack's gateway config has it."""
    pipelines: dict[str, tuple[int, ...]]
    """Tenant name -> its pipeline ids (the corpus)."""
    candidates: dict[str, tuple[int, ...]]

    @property
    def log(self) -> Path:
        """The gateway's log (both workers and their supervisor)."""
        return self.stack.run_dir / "logs" / "gateway.log"

    @property
    def supervisor_pid(self) -> int:
        """The ``python -m reference_impl`` process that supervises the workers."""
        return self.stack.services["gateway"].pid or 0

    def worker_pids(self) -> list[int]:
        """The worker processes running now."""
        return [
            pid
            for pid in process_tree(self.supervisor_pid)[1:]
            if b"spawn_main" in _read(Path(f"/proc/{pid}/cmdline"))
        ]

    def worker_rss(self) -> dict[int, int]:
        """Resident memory of each worker, in bytes."""
        return {pid: _rss_bytes(pid) for pid in self.worker_pids()}

    def restarts_logged(self) -> list[str]:
        """The supervisor's log lines about workers that exited."""
        return [line for line in self.log.read_text().splitlines() if RESTART.search(line)]

    def errors_logged(self) -> list[str]:
        """Log lines at ERROR or above, and tracebacks."""
        loud = (" ERROR ", " CRITICAL ", "Traceback (most recent call last)")
        return [line for line in self.log.read_text().splitlines() if any(w in line for w in loud)]


@contextmanager
def fuzz_gateway(run_dir: Path) -> Iterator[FuzzGateway]:
    """Start the stack with the fuzz gateway; stop it all afterwards."""
    run_dir.mkdir(parents=True, exist_ok=True)
    keys = {name: f"sk-{name}-{secrets.token_hex(12)}" for name in TENANTS}
    config_path = _write_config(run_dir / "fuzz-gateway.yaml", keys)
    config = StackConfig.from_env(
        run_dir,
        gateway_workers=WORKERS,
        gateway_config=config_path,
        gateway_profile="hardened",
        database_url=None,  # servers of its own: the corpus load empties the copilot's tables,
        redis_url=None,  # and the canary search reads every key and row
        toxiproxy_url=None,
    )
    with start_stack(config) as stack:
        stack.provider.set_config({"models": FAST_MODELS})
        generate(stack.endpoints.postgres, CORPUS)
        host, port = host_and_port(stack.endpoints.gateway or "", default_port=80)
        _wait_for_listeners(port, WORKERS)
        pipelines, candidates = _corpus_ids(stack.endpoints.postgres)
        yield FuzzGateway(
            stack=stack,
            host=host,
            port=port,
            keys=keys,
            metrics_token=metrics_token_of(stack.gateway_config) if stack.gateway_config else None,
            pipelines=pipelines,
            candidates=candidates,
        )


def _write_config(path: Path, keys: dict[str, str]) -> Path:
    """Two tenants (the second with a token budget), the corpus's dimensions, a scrape token."""
    tenants: list[dict[str, Any]] = [{"name": name, "api_key": key} for name, key in keys.items()]
    tenants[-1]["budget"] = {"limit_tokens": 100_000_000}
    document = {
        "tenants": tenants,
        "retrieval": {"dimensions": DIMENSIONS},
        "metrics_token": f"scrape-{secrets.token_hex(16)}",
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        yaml.safe_dump(document, file, sort_keys=False)
    return path


def _wait_for_listeners(port: int, count: int) -> None:
    """Wait until ``count`` sockets listen on ``port`` (each worker binds its own)."""
    deadline = time.monotonic() + READY_S
    while _listeners(port) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {count} workers listen on port {port}")
        time.sleep(0.1)


def _listeners(port: int) -> int:
    wanted = f":{port:04X}"
    count = 0
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        for line in _read(table).decode().splitlines()[1:]:
            fields = line.split()
            count += fields[1].endswith(wanted) and fields[3] == LISTEN
    return count


def _corpus_ids(dsn: str) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
    with psycopg.connect(dsn) as conn:
        pipelines = conn.execute("SELECT tenant_id, id FROM pipelines ORDER BY id").fetchall()
        candidates = conn.execute("SELECT tenant_id, id FROM candidates ORDER BY id").fetchall()
    return _by_tenant(pipelines), _by_tenant(candidates)


def _by_tenant(rows: list[tuple[Any, ...]]) -> dict[str, tuple[int, ...]]:
    grouped: dict[str, list[int]] = {}
    for tenant, identifier in rows:
        grouped.setdefault(str(tenant), []).append(int(identifier))
    return {tenant: tuple(ids) for tenant, ids in grouped.items()}


def _rss_bytes(pid: int) -> int:
    for line in _read(Path(f"/proc/{pid}/status")).decode().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""
