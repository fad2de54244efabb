"""The LiteLLM proxy as a benchmark target: the built-in peer of ``stack.peers``, one worker.

It is the proxy the scenarios run as the ``litellm`` peer (``stack.peers.litellm``): the same
pinned version in the same venv of the meltproof cache, installed once by the same installer,
started with the same production config and environment (the router's retries and cooldowns,
completions cached in Redis, logs at ERROR, no database, nothing fetched at start), as any
command gateway is: through ``stack.command_service.CommandGateway``, under the group guard.

Two things are the benchmark's own: the one model it serves (``litellm_command``'s ``model``,
without fallbacks) and the master key, which is the benchmark's client API key, so that one load
plan drives every target. ``litellm_gateway`` wires it to the benchmark's provider and Redis
directly (the benchmark has no Toxiproxy links).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from stack.command_service import CommandGateway
from stack.gateway_command import ClientAuth, GatewayCommand
from stack.peers import PeerModel, litellm
from stack.urls import host_and_port


REQUIREMENT = litellm.REQUIREMENT
WORKERS = 1


def litellm_command(
    model: str, *, api_key: str, cache_dir: Path, on_progress: Callable[[str], None]
) -> GatewayCommand:
    """The peer's command for ``model`` alone, one worker, with ``api_key`` as its master key;
    the proxy is installed into ``cache_dir`` first if it is not there yet (``StackStartError``
    when that fails)."""
    command = litellm.command(
        (PeerModel(model),), cache_dir=cache_dir, on_progress=on_progress, workers=WORKERS
    )
    return dataclasses.replace(
        command,
        env={**command.env, litellm.MASTER_KEY_ENV: api_key},
        auth=ClientAuth(mode="one_key", key=api_key),
    )


def link_values(*, provider_url: str, redis_url: str) -> dict[str, str]:
    """The values of the proxy's link placeholders: the provider and Redis themselves."""
    redis_host, redis_port = host_and_port(redis_url, default_port=6379)
    return {
        "provider_url": provider_url.rstrip("/"),
        "redis_url": redis_url,
        "redis_host": redis_host,
        "redis_port": str(redis_port),
    }


def litellm_gateway(
    command: GatewayCommand,
    *,
    port: int,
    provider_url: str,
    redis_url: str,
    work_dir: Path,
    log_dir: Path,
) -> CommandGateway:
    """The proxy of ``command`` on ``port``, its config written into ``work_dir`` and its log
    into ``log_dir/litellm``."""
    return CommandGateway(
        command,
        port=port,
        values=link_values(provider_url=provider_url, redis_url=redis_url),
        run_dir=work_dir,
        log_dir=log_dir / "litellm",
    )
