"""Built-in peers against the real simulated provider and Redis: installed once into the
meltproof cache (the first run is slow), started as the stack starts them, and driven through a
chat completion, a repeated request and a 429 storm on gpt-4o."""

import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest

from reference_impl.config import DEFAULT_MODELS
from stack.gateway_command import GatewayCommand, fill
from stack.peers import PEERS, peer_command
from stack.ports import LOOPBACK, ephemeral_port
from stack.process import ManagedProcess
from stack.provider_control import ProviderControl
from stack.python_service import PythonService
from stack.redis_server import RedisServer, find_redis_server
from stack.urls import host_and_port


pytestmark = [
    pytest.mark.integration,
    pytest.mark.peers,
    pytest.mark.timeout(900),  # the first test of a peer installs it: LiteLLM takes a minute
]

FAST = {"ttft_ms": 10, "tpot_ms": 1, "jitter": 0, "output_tokens_min": 4, "output_tokens_max": 8}
PROVIDER_CONFIG = {
    "models": [
        {"name": route.name, "kind": route.kind, **({} if route.kind == "embedding" else FAST)}
        for route in DEFAULT_MODELS
    ]
}
"""Every model of our gateway's defaults (the peers serve them too), answering fast."""


@dataclass(frozen=True)
class Peer:
    """A running peer and what its clients send."""

    name: str
    url: str
    headers: dict[str, str]


@pytest.fixture(scope="module")
def upstreams(tmp_path_factory):
    """The simulated provider and Redis, for every peer of the module."""
    run_dir = tmp_path_factory.mktemp("peers")
    config = run_dir / "provider.json"
    config.write_text(json.dumps(PROVIDER_CONFIG))
    provider = PythonService(
        "provider", "stack.provider", port=ephemeral_port(), log_dir=run_dir,
        args=["--config", str(config)],
    )  # fmt: skip
    redis = RedisServer(find_redis_server(), port=ephemeral_port(), log_dir=run_dir)
    try:
        provider.launch()
        redis.launch()
        provider.wait_ready(time.monotonic() + 30)
        redis.wait_ready(time.monotonic() + 30)
        yield provider, redis, run_dir
    finally:
        provider.stop()
        redis.stop()


@pytest.fixture(scope="module", params=sorted(PEERS))
def peer(request, upstreams):
    """One peer, installed (once) and started with its placeholders filled as the stack fills
    them, but wired to the provider and Redis directly."""
    provider, redis, run_dir = upstreams
    command = peer_command(request.param, DEFAULT_MODELS, on_progress=lambda _message: None)
    port = ephemeral_port()
    redis_host, redis_port = host_and_port(redis.url, default_port=6379)
    values = {
        "port": str(port),
        "provider_url": provider.url,
        "redis_url": redis.url,
        "redis_host": redis_host,
        "redis_port": str(redis_port),
        "database_url": "postgresql://127.0.0.1:1/unused",
        "run_dir": str(run_dir),
    }
    for name, text in command.files.items():
        (run_dir / name).write_text(fill(text, values))
    process = ManagedProcess(
        command.name,
        [fill(arg, values) for arg in command.argv],
        log_path=run_dir / f"{command.name}.log",
        env={**os.environ, **{key: fill(value, values) for key, value in command.env.items()}},
    )
    url = f"http://{LOOPBACK}:{port}"
    try:
        process.spawn()
        process.wait_ready(
            lambda: _answers(url + command.ready_path), time.monotonic() + command.start_timeout_s
        )
        yield Peer(command.name, url, _client_headers(command, values))
    finally:
        process.stop()


@pytest.fixture
def provider(upstreams):
    """The provider's control API, with stats and faults cleared before the test."""
    control = ProviderControl(upstreams[0].url)
    control.reset()
    return control


def _client_headers(command: GatewayCommand, values: dict[str, str]) -> dict[str, str]:
    headers = {name: fill(value, values) for name, value in command.headers.items()}
    if command.auth.key:
        headers["Authorization"] = f"Bearer {command.auth.key}"
    return {**headers, "X-Tenant-Id": "acme"}


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
            return bool(response.status < 500)
    except urllib.error.HTTPError as error:
        return error.code < 500
    except OSError:
        return False


def _chat(peer: Peer, model: str, text: str) -> tuple[int, dict]:
    body = {"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 8}
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{peer.url}/v1/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **peer.headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {"error": error.read().decode(errors="replace")}


def test_a_chat_completion_reaches_the_provider_with_the_tenant(peer, provider):
    status, answer = _chat(peer, "gpt-4o-mini", "Summarise the pipeline for acme.")
    assert status == 200, answer
    assert answer["choices"][0]["message"]["content"]
    stats = provider.stats()
    assert stats["models"]["gpt-4o-mini"]["status"] == {"200": 1}
    assert stats["tenants"]["acme"]["requests"] == 1  # X-Tenant-Id was forwarded


def test_a_repeated_request_is_answered_from_the_cache_by_litellm_only(peer, provider):
    first = _chat(peer, "local-llm", "Draft an outreach message to globex.")
    time.sleep(1.0)  # a proxy writes its cache after it has answered
    second = _chat(peer, "local-llm", "Draft an outreach message to globex.")
    assert first[0] == second[0] == 200, (first, second)
    calls = provider.stats()["models"]["local-llm"]["requests"]
    assert calls == (1 if peer.name == "litellm" else 2)  # Portkey's npm build has no cache


def test_a_429_storm_on_gpt_4o_is_retried_then_answered_by_gpt_4o_mini(peer, provider):
    provider.set_fault({"error_rates": {429: 1.0}, "retry_after_s": 0.05}, model="gpt-4o")
    status, answer = _chat(peer, "gpt-4o", "Which deals slipped this quarter?")
    assert status == 200, answer
    assert answer["model"] == "gpt-4o-mini"
    models = provider.stats()["models"]
    assert models["gpt-4o"]["status"] == {"429": 3}  # the first attempt and two retries
    assert models["gpt-4o-mini"]["status"] == {"200": 1}
