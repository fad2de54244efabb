"""Built-in peers on the real stack: installed once into the meltproof cache (the first run is
slow), started by ``start_stack`` as any command gateway is (files written, placeholders filled,
run under the group guard, wired through the Toxiproxy links), and driven through a chat
completion, a repeated request and a 429 storm on gpt-4o. Each listens on the loopback address
only, and stopping the stack leaves nothing of it behind."""

import ipaddress
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from reference_impl.config import DEFAULT_MODELS
from stack import Stack, StackConfig, start_stack
from stack.group_guard import group_members
from stack.peers import PEERS, peer_command
from stack.provider_control import ProviderControl


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
CACHING = {"litellm"}
"""The peers that answer a repeated request from a cache (Portkey's npm build has none)."""
CACHE_DEADLINE_S = 10.0
"""How long a proxy may take to write its cache after it has answered."""
STOP_DEADLINE_S = 20.0
LISTEN = "0A"
"""A listening socket's state in ``/proc/net/tcp``."""


@dataclass(frozen=True)
class Peer:
    """A peer running on its own stack, and what its clients send."""

    name: str
    stack: Stack
    url: str
    headers: dict[str, str]


@pytest.fixture(scope="module", params=sorted(PEERS))
def peer(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Peer]:
    """One peer, installed (once) and started by ``start_stack`` on a stack of its own; once
    the stack stops, nothing of the peer's process group may be left."""
    run_dir = tmp_path_factory.mktemp(request.param)
    provider_config = run_dir / "provider.json"
    provider_config.write_text(json.dumps(PROVIDER_CONFIG))
    command = peer_command(request.param, DEFAULT_MODELS, on_progress=lambda _message: None)
    config = StackConfig.from_env(run_dir, gateway_command=command, provider_config=provider_config)
    with start_stack(config) as stack:
        guard = stack.services["gateway"].pid
        assert guard is not None
        assert stack.endpoints.gateway is not None
        headers = dict(stack.gateway_headers)
        if command.auth.key:
            headers["Authorization"] = f"Bearer {command.auth.key}"
        yield Peer(command.name, stack, stack.endpoints.gateway, headers | {"X-Tenant-Id": "acme"})
    assert _within(STOP_DEADLINE_S, lambda: not group_members(guard)), group_members(guard)


@pytest.fixture
def provider(peer: Peer) -> ProviderControl:
    """The provider's control API, with stats and faults cleared (and Redis emptied) before the
    test."""
    with redis.Redis.from_url(peer.stack.endpoints.redis, socket_timeout=5) as client:
        client.flushall()
    control = peer.stack.provider
    control.reset()
    return control


def _within(timeout_s: float, condition) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


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


def _calls(provider: ProviderControl, model: str) -> int:
    return int(provider.stats()["models"].get(model, {}).get("requests", 0))


def _listening(port: int) -> list[str]:
    """The local addresses of the sockets listening on TCP ``port`` (``/proc/net/tcp[6]``)."""
    addresses = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            host, _, port_hex = local.partition(":")
            if state != LISTEN or int(port_hex, 16) != port:
                continue
            raw = bytes.fromhex(host)  # each 32-bit word in host (little-endian) order
            packed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            addresses.append(str(ipaddress.ip_address(packed)))
    return addresses


def test_the_peer_listens_on_the_loopback_address_only(peer: Peer) -> None:
    port = urlsplit(peer.url).port
    assert port is not None
    assert _listening(port) == ["127.0.0.1"]


def test_its_files_are_written_with_the_links_filled_in(peer: Peer) -> None:
    command = peer.stack.gateway_command
    assert command is not None
    endpoints = peer.stack.endpoints
    for name, template in command.files.items():
        written = (peer.stack.run_dir / name).read_text()
        assert "{provider_url}" not in written
        if "{provider_url}" in template:
            assert f"{endpoints.provider_proxied}/v1" in written  # through the provider link


def test_a_chat_completion_reaches_the_provider_with_the_tenant(
    peer: Peer, provider: ProviderControl
) -> None:
    status, answer = _chat(peer, "gpt-4o-mini", "Summarise the pipeline for acme.")
    assert status == 200, answer
    assert answer["choices"][0]["message"]["content"]
    stats = provider.stats()
    assert stats["models"]["gpt-4o-mini"]["status"] == {"200": 1}
    assert stats["tenants"]["acme"]["requests"] == 1  # X-Tenant-Id was forwarded


def test_a_repeated_request_is_answered_from_the_cache_by_litellm_only(
    peer: Peer, provider: ProviderControl
) -> None:
    prompt = "Draft an outreach message to globex."
    status, answer = _chat(peer, "local-llm", prompt)
    assert status == 200, answer
    if peer.name not in CACHING:
        for calls in (2, 3):
            status, answer = _chat(peer, "local-llm", prompt)
            assert status == 200, answer
            assert _calls(provider, "local-llm") == calls  # every request goes upstream
        return
    # The proxy writes its cache after it has answered: repeat until a repeat stays local.
    deadline = time.monotonic() + CACHE_DEADLINE_S
    while True:
        before = _calls(provider, "local-llm")
        status, answer = _chat(peer, "local-llm", prompt)
        assert status == 200, answer
        if _calls(provider, "local-llm") == before:
            break  # answered from the cache
        assert time.monotonic() < deadline, f"{before + 1} calls, none answered from the cache"
        time.sleep(0.05)


def test_a_429_storm_on_gpt_4o_is_retried_then_answered_by_gpt_4o_mini(
    peer: Peer, provider: ProviderControl
) -> None:
    provider.set_fault({"error_rates": {429: 1.0}, "retry_after_s": 0.05}, model="gpt-4o")
    status, answer = _chat(peer, "gpt-4o", "Which deals slipped this quarter?")
    assert status == 200, answer
    assert answer["model"] == "gpt-4o-mini"
    models = provider.stats()["models"]
    assert models["gpt-4o"]["status"] == {"429": 3}  # the first attempt and two retries
    assert models["gpt-4o-mini"]["status"] == {"200": 1}
