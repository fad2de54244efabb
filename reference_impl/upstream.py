"""The HTTP client towards the provider: one pooled session for the app's lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from .keys import CONFIG, UPSTREAM


async def upstream_session(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: open the session at start-up, close it at shutdown."""
    config = app[CONFIG]
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
    async with aiohttp.ClientSession(
        base_url=str(config.provider_url),
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=config.upstream_timeout_s),
        headers={"Authorization": f"Bearer {config.provider_api_key}"},
    ) as session:
        app[UPSTREAM] = session
        yield
