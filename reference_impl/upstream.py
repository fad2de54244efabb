"""The HTTP client towards the provider: one pooled session for the app's lifetime."""

from __future__ import annotations

import aiohttp

from .config import GatewayConfig


def open_upstream_session(config: GatewayConfig) -> aiohttp.ClientSession:
    """A session with unlimited pooled connections; each call sets its own timeout."""
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
    return aiohttp.ClientSession(
        base_url=str(config.provider_url),
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None),
        headers={"Authorization": f"Bearer {config.provider_api_key.get_secret_value()}"},
    )
