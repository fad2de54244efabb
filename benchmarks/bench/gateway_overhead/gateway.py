"""How the gateway overhead benchmark runs our gateway: its command line and its config file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .parameters import API_KEY, TENANT


def gateway_args(*, provider_url: str, redis_url: str, config: Path, workers: int = 1) -> list[str]:
    """The gateway's command line after ``--host`` and ``--port``: the one place that knows it."""
    return [
        "--provider-url", provider_url, "--redis-url", redis_url, "--profile", "hardened",
        "--config", str(config), "--workers", str(workers),
    ]  # fmt: skip


def gateway_config() -> dict[str, Any]:
    """The gateway's config file: our tenant, and limiter caps far above the offered load."""
    return {
        "tenants": [{"name": TENANT, "api_key": API_KEY}],
        "limiter": {"tenant_cap": 65_536, "global_cap": 65_536},
    }
