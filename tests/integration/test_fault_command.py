"""``meltproof fault`` against the stack of a running ``meltproof up``: each family of faults is
injected, seen in the stack's behaviour, and healed; a stopping ``up`` heals everything."""

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from test_cli_up import MELTPROOF, _service_pids, _start_up, _wait_gone

from stack.toxiproxy import ToxiproxyClient


@dataclass
class Up:
    """A running ``meltproof up``: its process, run dir and ``stack.json``."""

    process: subprocess.Popen
    run_dir: Path
    stack: dict
    api_key: str

    @property
    def toxiproxy(self) -> ToxiproxyClient:
        return ToxiproxyClient(self.stack["endpoints"]["toxiproxy"])

    def toxics(self, link: str) -> list[str]:
        return [toxic.name for toxic in self.toxiproxy.proxies()[link].toxics]

    def fault(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        """``meltproof fault ARGS``, for this ``up`` (found from ``cwd`` when given)."""
        where = [] if cwd else ["--run-dir", str(self.run_dir)]
        return subprocess.run(
            [MELTPROOF, "fault", *args, *where],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=cwd,
            env={**os.environ, "COLUMNS": "200"},
            check=False,
        )

    def stop(self) -> str:
        """SIGINT; the rest of its output."""
        self.process.send_signal(signal.SIGINT)
        return self.process.communicate(timeout=60)[0]


@contextmanager
def _up(run_dir: Path) -> Iterator[Up]:
    process, output = _start_up(run_dir)
    try:
        key = re.search(r"^api key \(\w+\) +(\S+)$", output, re.MULTILINE)
        assert key is not None, output
        yield Up(process, run_dir, json.loads((run_dir / "stack.json").read_text()), key[1])
    finally:
        process.kill()
        process.communicate(timeout=10)


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """One ``up`` for the module, in ``.meltproof/runs`` below a fresh directory."""
    base = tmp_path_factory.mktemp("fault-command")
    with _up(base / ".meltproof" / "runs" / "20250101-000000") as running:
        yield running


@pytest.fixture
def healthy(up: Up) -> Iterator[Up]:
    """The module's ``up``; every fault cleared after the test."""
    yield up
    up.fault("clear", "--all")


def _post(url: str, body: dict, key: str) -> tuple[int, float]:
    """POST ``body``: the status and the seconds it took."""
    request = urllib.request.Request(  # noqa: S310 - the stack's loopback URLs
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return status, time.perf_counter() - started


def _chat(max_tokens: int = 1) -> dict:
    """A chat request no cache has seen."""
    content = f"Say something {uuid.uuid4().hex}."
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}],
            "max_tokens": max_tokens}  # fmt: skip


def _gateway_chat(up: Up) -> tuple[int, float]:
    return _post(up.stack["endpoints"]["gateway"] + "/v1/chat/completions", _chat(), up.api_key)


DURATION = r"(?:\d+\.\d s|\d+ s|\d+ min \d\d s)"
"""A duration as ``meltproof fault`` shows it: ``4.2 s`` (below 10 s), ``12 s``, ``1 min 05 s``."""


def _wait_for(condition: Callable[[], bool], timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_latency_on_the_provider_link_slows_the_gateway_until_cleared(healthy: Up) -> None:
    assert _gateway_chat(healthy)[0] == 200
    added = healthy.fault("add", "latency", "link=provider", "latency_ms=500")
    assert added.returncode == 0, added.stderr
    assert "injected latency-provider: latency link=provider latency_ms=500" in added.stdout
    assert healthy.toxics("provider") == ["meltproof-latency-downstream"]
    status, slow_s = _gateway_chat(healthy)
    assert status == 200
    assert slow_s >= 0.5
    listed = healthy.fault("list", cwd=healthy.run_dir.parents[2])  # found in .meltproof/runs
    assert listed.returncode == 0, listed.stderr
    assert re.search(rf"latency-provider +{DURATION} +until cleared +latency link=provider "
                     r"latency_ms=500", listed.stdout)  # fmt: skip
    cleared = healthy.fault("clear", "latency-provider")
    assert cleared.returncode == 0, cleared.stderr
    assert "healed latency-provider" in cleared.stdout
    assert healthy.toxics("provider") == []
    status, healed_s = _gateway_chat(healthy)
    assert status == 200
    assert healed_s < slow_s - 0.3


def test_a_fault_with_a_time_limit_heals_by_itself(healthy: Up) -> None:
    added = healthy.fault("add", "bandwidth", "link=redis", "rate_kbps=10", "--for", "6s")
    assert added.returncode == 0, added.stderr
    assert "(for 6.0 s)" in added.stdout
    assert healthy.toxics("redis") == ["meltproof-bandwidth-downstream"]
    listed = healthy.fault("list").stdout
    assert re.search(rf"bandwidth-redis +{DURATION} +{DURATION} +bandwidth", listed), listed
    assert _wait_for(lambda: healthy.toxics("redis") == [], timeout_s=15)
    assert "no active faults" in healthy.fault("list").stdout


def test_a_429_storm_on_the_provider_is_answered_until_cleared(healthy: Up) -> None:
    provider = healthy.stack["endpoints"]["provider"] + "/v1/chat/completions"
    added = healthy.fault("add", "provider_errors", "rates={429: 1.0}")
    assert added.returncode == 0, added.stderr
    assert [_post(provider, _chat(), "sk-test")[0] for _ in range(5)] == [429] * 5
    assert "provider_errors rates={429: 1.0}" in healthy.fault("list").stdout
    assert healthy.fault("clear", "provider_errors").returncode == 0
    assert _post(provider, _chat(), "sk-test")[0] == 200


def test_a_frozen_redis_answers_nothing_until_cleared(healthy: Up) -> None:
    url = healthy.stack["endpoints"]["redis"]
    added = healthy.fault("add", "freeze", "service=redis", "--name", "pause")
    assert added.returncode == 0, added.stderr
    with redis.Redis.from_url(url, socket_timeout=0.5) as client, pytest.raises(redis.TimeoutError):
        client.ping()
    assert "pause" in healthy.fault("list").stdout
    assert healthy.fault("clear", "pause").returncode == 0
    with redis.Redis.from_url(url, socket_timeout=5) as client:
        assert client.ping()


def test_stopping_up_heals_every_fault_first(tmp_path: Path) -> None:
    with _up(tmp_path / "run") as up:
        for fault in (
            ["latency", "link=postgres", "latency_ms=100"],
            ["provider_errors", "rates={503: 0.5}", "--for", "10m"],
            ["freeze", "service=redis"],
        ):
            assert up.fault("add", *fault).returncode == 0
        pids = _service_pids(up.run_dir)
        rest = up.stop()
    assert up.process.returncode == 0, rest
    healed = re.findall(r"fault (\S+) healed \(meltproof up stops\)", rest)
    assert healed == ["freeze-redis", "provider_errors", "latency-postgres"]
    assert rest.index("healed (meltproof up stops)") < rest.index("stopped")
    assert not (up.run_dir / "control.json").exists()
    assert _wait_gone(pids) == []
