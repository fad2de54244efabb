"""The LiteLLM proxy as a peer: ``litellm[proxy]`` in a venv of its own, configured for production.

The version is pinned exactly (PyPI served malicious 1.82.7 and 1.82.8 in 2026). 1.108.7 is the
newest release whose ``proxy`` extra installs from PyPI as it is served here: later releases pin
companion packages (``litellm-proxy``, ``litellm-proxy-extras``, ``litellm-enterprise`` builds)
that the registry does not serve.

The config (``litellm.yaml`` in the run directory) follows the production checklist
(https://docs.litellm.ai/docs/proxy/prod): every served model goes to the simulated provider as
an OpenAI-compatible deployment; the router retries, falls back along each model's chain and
cools a failing deployment down, with its state in Redis (host and port, not a URL, as the
checklist asks); completions and embeddings are cached in Redis; the client's ``x-`` headers,
``X-Tenant-Id`` among them, are forwarded upstream
(https://docs.litellm.ai/docs/proxy/forward_client_headers); spend and error logs are off, logs
are JSON at ERROR, and one Uvicorn worker runs per instance unless told otherwise.

Clients authenticate with the master key (``ClientAuth`` ``one_key``). Virtual keys, and with
them per-tenant budgets and rate limits, need LiteLLM's PostgreSQL schema, which it manages with
Prisma: the ``prisma`` client is not in the ``proxy`` extra, and Prisma's CLI and engines are
downloaded at first use from Prisma's own servers, not from a package registry. That cannot
work offline, so the proxy runs without a database (a ``DATABASE_URL`` in the harness's
environment is unset for it) and does not tell tenants apart. Nothing reaches the internet at
start: the model cost map and LiteLLM's other remote files are read from the package, and
telemetry is off.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from stack import links
from stack.gateway_command import ClientAuth, GatewayCommand

from .install import pip_install
from .served import (
    PROVIDER_API_KEY,
    RETRIES,
    UPSTREAM_TIMEOUT_S,
    ServedModel,
    fallback_chains,
)


NAME = "litellm"
VERSION = "1.108.7"
REQUIREMENT = f"litellm[proxy]=={VERSION}"
LINKS = frozenset({links.PROVIDER, links.REDIS})
"""The links the proxy reaches its upstreams through: the provider, and Redis for its cache and
its router's state (``command`` gives it exactly these placeholders)."""
CONFIG_FILE = "litellm.yaml"
MASTER_KEY_ENV = "LITELLM_MASTER_KEY"
ALLOWED_FAILS = 3
"""Failures of a deployment within a minute before it is cooled down."""
COOLDOWN_S = 5
"""How long a cooled-down deployment is skipped (our gateway's breaker stays open as long)."""
CACHE_TTL_S = 120
"""How long a cached answer is served (our gateway's cache keeps answers as long)."""
CACHED_CALLS = ("acompletion", "completion", "aembedding", "embedding")
SETTINGS_ENV = {
    "LITELLM_MODE": "PRODUCTION",  # no .env loading
    "LITELLM_LOG": "ERROR",
    "LITELLM_TELEMETRY_DISABLED": "true",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_LOCAL_POLICY_TEMPLATES": "True",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
    "DISABLE_ADMIN_UI": "True",
    "NO_DOCS": "True",
}
"""Production mode, and the package's own copies of files LiteLLM would otherwise download."""
_WITHOUT_DATABASE = ("env", "-u", "DATABASE_URL", "-u", "DIRECT_URL")
"""The proxy would use a database these name (and so Prisma)."""


def config(models: Sequence[ServedModel]) -> dict[str, Any]:
    """The proxy's config for ``models``, with the stack's placeholders for the links."""
    chains = fallback_chains(models)
    return {
        "model_list": [_deployment(model) for model in models],
        "router_settings": {
            "routing_strategy": "simple-shuffle",
            "num_retries": RETRIES,
            "allowed_fails": ALLOWED_FAILS,
            "cooldown_time": COOLDOWN_S,
            "fallbacks": [{name: chain[1:]} for name, chain in chains.items() if len(chain) > 1],
            "redis_host": "{redis_host}",
            "redis_port": "{redis_port}",
        },
        "litellm_settings": {
            "request_timeout": UPSTREAM_TIMEOUT_S,
            "set_verbose": False,
            "json_logs": True,
            "cache": True,
            "cache_params": {
                "type": "redis",
                "host": "{redis_host}",
                "port": "{redis_port}",
                "ttl": CACHE_TTL_S,
                "supported_call_types": list(CACHED_CALLS),
            },
        },
        "general_settings": {
            "master_key": f"os.environ/{MASTER_KEY_ENV}",
            "forward_client_headers_to_llm_api": True,
            "disable_spend_logs": True,
            "disable_error_logs": True,
        },
    }


def _deployment(model: ServedModel) -> dict[str, Any]:
    return {
        "model_name": model.name,
        "litellm_params": {
            "model": f"openai/{model.name}",
            "api_base": "{provider_url}/v1",
            "api_key": PROVIDER_API_KEY,
        },
        "model_info": {"mode": model.kind},
    }


def command(
    models: Sequence[ServedModel],
    *,
    cache_dir: Path,
    on_progress: Callable[[str], None],
    workers: int = 1,
) -> GatewayCommand:
    """Install the proxy once, then say how to start it with ``workers`` Uvicorn workers."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    document = yaml.safe_dump(config(models), sort_keys=False)
    venv = pip_install(
        cache_dir, service=NAME, requirement=REQUIREMENT, version=VERSION, on_progress=on_progress
    )
    master_key = f"sk-meltproof-{secrets.token_hex(16)}"
    argv = (
        *_WITHOUT_DATABASE, str(venv / "bin" / "litellm"), "--config", f"{{run_dir}}/{CONFIG_FILE}",
        "--host", "127.0.0.1", "--port", "{port}", "--num_workers", str(workers),
    )  # fmt: skip
    return GatewayCommand(
        name=NAME,
        argv=argv,
        env={**SETTINGS_ENV, MASTER_KEY_ENV: master_key},
        ready_path="/health/liveliness",
        start_timeout_s=120.0,
        files={CONFIG_FILE: document},
        auth=ClientAuth(mode="one_key", key=master_key),
        version=f"LiteLLM {VERSION}",
    )
