"""The Locust engine behind the seam: the whole target honoured, time zero shared with the
workers, and a remote worker joining with the command line the run prints."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from benchmarks.arrivals import Arrivals, Constant
from benchmarks.engine import LiveCounts
from benchmarks.op import ErrorKind, Outcome
from benchmarks.plan import LoadPlan
from benchmarks.target import Target
from benchmarks.workload import TenantShare, Workload
from scenarios.load_engines import LocustEngine, run_with_engine
from stack.ports import ephemeral_port


PREFIX = "/gateway"
TIMEOUT_S = 2.0
"""The client's timeout: only the requests the gateway holds on purpose reach it, even on a
loaded machine."""
HELD_S = TIMEOUT_S * 2
"""How long the gateway holds initech's requests."""
CLOCKS_S = 0.05
"""How far apart the gateway's wall clock and the workers' monotonic one may seem within a run:
their drift, and the scheduling noise of a loaded machine."""


@dataclass(frozen=True)
class Seen:
    """A request as the gateway got it: when (wall clock) and its headers, lower-cased."""

    at: float
    headers: dict[str, str]


@pytest.fixture
async def gateway(aiohttp_server: AiohttpServer) -> tuple[str, list[Seen]]:
    """A chat endpoint under a path prefix that notes every request; it holds initech's
    requests well past the client's timeout."""
    seen: list[Seen] = []

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        headers = {name.lower(): value for name, value in request.headers.items()}
        seen.append(Seen(time.time(), headers))
        if headers["x-tenant-id"] == "initech":
            await asyncio.sleep(HELD_S)
        usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
        return web.json_response({"model": body["model"], "choices": [], "usage": usage})

    app = web.Application()
    app.router.add_post(f"{PREFIX}/v1/chat/completions", chat)
    server = await aiohttp_server(app)
    return f"http://127.0.0.1:{server.port}{PREFIX}", seen


class OtherMachine:
    """Takes the run's messages and runs the worker command line it is told to, as a user
    would on another machine (here, in a directory without meltproof's files)."""

    def __init__(self, directory: Path) -> None:
        self.said: list[str] = []
        self.workers: list[subprocess.Popen[bytes]] = []
        self._directory = directory

    def say(self, line: str) -> None:
        self.said.append(line)
        if "--worker" not in line:
            return
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
        with (self._directory / "remote.log").open("wb") as log:
            worker = subprocess.Popen(  # noqa: S602 - the exact line the user is told to run
                line,
                shell=True,
                cwd=self._directory,
                env={**os.environ, "PATH": path},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.workers.append(worker)


def _plan(url: str) -> LoadPlan:
    """Tenants with and without a key of their own, a default key, an extra header."""
    workload = Workload(
        arrivals=Arrivals(Constant(20.0), "regular"),
        tenants=(
            TenantShare("acme", 2, api_key="sk-acme"),
            TenantShare("globex", 2),
            TenantShare("initech", 1),
        ),
        model="fast",
        seed=7,
    )
    target = Target(url, timeout_s=TIMEOUT_S, api_key="sk-default", headers={"X-Route": "blue"})
    return LoadPlan(workload, duration_s=2.0, target=target)


@pytest.mark.integration
async def test_a_local_and_a_remote_worker_send_the_plan_to_the_whole_target(
    gateway: tuple[str, list[Seen]], tmp_path: Path
) -> None:
    url, seen = gateway
    plan = _plan(url)
    engine = LocustEngine(local_workers=1, remote_workers=1, master_port=ephemeral_port())
    elsewhere = OtherMachine(tmp_path)
    starts: list[float] = []
    shown: list[LiveCounts] = []
    work_dir = tmp_path / "locust"
    try:
        result = await run_with_engine(
            engine,
            plan,
            work_dir=work_dir,
            progress=shown.append,
            on_start=starts.append,
            say=elsewhere.say,
        )
        assert elsewhere.workers[0].wait(timeout=10) == 0
    finally:
        for worker in elsewhere.workers:
            worker.kill()

    port = engine.master_port
    said = elsewhere.said
    assert f"  python -m locust --worker --master-host 127.0.0.1 --master-port {port} -f -" in said
    assert any("listens on 127.0.0.1 only" in line for line in said)
    assert "all 40 requests reported" in said

    schedule = plan.workload.schedule(plan.duration_s)
    ops = result.table.ops
    assert result.plan == dataclasses.replace(plan, processes=2)
    assert np.array_equal(ops["tenant"], schedule.tenant)
    assert np.array_equal(ops["prompt"], schedule.prompt)
    slow = ops["tenant"] == schedule.tenants.index("initech")
    assert (ops["outcome"][~slow] == Outcome.OK).all()
    assert (ops["outcome"][slow] == Outcome.INFO).all()
    assert (ops["error"][slow] == ErrorKind.TIMEOUT).all()
    assert result.table.models == ("fast",)

    assert len(seen) == len(schedule) == 40
    keys = {"acme": "Bearer sk-acme", "globex": "Bearer sk-default", "initech": "Bearer sk-default"}
    for request in seen:
        assert request.headers["authorization"] == keys[request.headers["x-tenant-id"]]
        assert request.headers["x-route"] == "blue"

    # Time zero is the workers' own: each request reached the gateway after it was sent and
    # before it ended, on the clock of the time zero that on_start got.
    assert starts == [result.started_at]
    arrived = np.sort([request.at - starts[0] for request in seen])
    assert (arrived >= np.sort(ops["sent_s"]) - CLOCKS_S).all()
    assert (arrived <= np.sort(ops["end_s"]) + CLOCKS_S).all()

    records = [json.loads(line) for line in (work_dir / "results.jsonl").read_text().splitlines()]
    assert {r["worker"] for r in records if r["kind"] == "ops"} == {0, 1}
    assert "sk-" not in (work_dir / "plan.json").read_text()
    assert {p.name for p in (work_dir / "logs").iterdir()} == {"master.log", "worker-0.log"}
    assert (shown[-1].sent, shown[-1].done, shown[-1].unknown) == (40, 40, int(slow.sum()))
