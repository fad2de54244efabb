"""A gateway that runs elsewhere, pointed at the links that ``meltproof up --no-gateway``
prints: faults on the links it uses act on it, and the provider's ground truth judges it."""

import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from test_cli_up import _start_up
from test_command_target import LATENCY_MS, PASSTHROUGH, SCENARIO, latency_ms

from scenarios.stored_run import StoredRun, read_run
from stack.attached import AttachedStack
from stack.ports import claim_port


@dataclass(frozen=True)
class BareStack:
    run_dir: Path
    provider_link: str
    """The OpenAI base URL that ``up`` printed (through the provider link)."""


@pytest.fixture(scope="module")
def bare_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BareStack]:
    run_dir = tmp_path_factory.mktemp("up") / "run"
    process, output = _start_up(run_dir, "--no-gateway")
    try:
        assert not re.search(r"^gateway ", output, re.MULTILINE)
        found = re.search(
            r"^  OpenAI base URL +(http://127\.0\.0\.1:\d+)/v1$", output, re.MULTILINE
        )
        assert found, output
        assert f"stack: {run_dir}" in output
        yield BareStack(run_dir, found.group(1))
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)


@pytest.fixture(scope="module")
def own_gateway(bare_stack: BareStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = claim_port("gateway", None, "--port")
    log = (tmp_path_factory.mktemp("gateway") / "gateway.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, str(PASSTHROUGH), "--port", str(port),
         "--upstream", bare_stack.provider_link],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=1).close()  # noqa: S310
                break
            except OSError:
                assert time.monotonic() < deadline, "the pass-through gateway did not start"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def url_scenario(url: str, stack: BareStack, uses: str) -> str:
    command = SCENARIO[SCENARIO.index("  command:") : SCENARIO.index("  timeout_s:")]
    wired = f"  url: {url}\n  stack: {stack.run_dir}\n  uses: [{uses}]\n"
    return SCENARIO.replace(command, wired).replace("passthrough_latency", "own_gateway")


def meltproof(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scenarios", *args],
        cwd=cwd, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def test_a_provider_link_fault_slows_the_gateway_and_the_provider_counts_its_calls(
    bare_stack: BareStack, own_gateway: str, tmp_path: Path
) -> None:
    provider = AttachedStack.open(bare_stack.run_dir).provider
    stack_config = provider.config()
    (tmp_path / "own.yaml").write_text(url_scenario(own_gateway, bare_stack, "provider"))
    done = meltproof("run", "own.yaml", "--out", "runs", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the stack's provider takes the scenario's config" in done.stdout
    assert provider.config() == stack_config  # restored after the run
    run: StoredRun = read_run(tmp_path / "runs" / "own_gateway" / "run")
    outside = np.median(latency_ms(run, inside=False))
    during = np.median(latency_ms(run, inside=True))
    assert during >= outside + LATENCY_MS * 0.9
    assert run.provider is not None
    assert run.provider["total"]["requests"] == int((~np.isnan(run.table.ops["sent_s"])).sum())
    toxiproxy = AttachedStack.open(bare_stack.run_dir).toxiproxy
    assert toxiproxy.proxies()["provider"].toxics == ()  # healed


def test_a_fault_on_a_link_not_in_uses_is_refused(
    bare_stack: BareStack, own_gateway: str, tmp_path: Path
) -> None:
    (tmp_path / "own.yaml").write_text(url_scenario(own_gateway, bare_stack, "redis"))
    done = meltproof("run", "own.yaml", "--out", "runs", cwd=tmp_path)
    assert done.returncode == 3
    assert "acts on the provider link" in " ".join(done.stderr.split())
