"""Fixtures: the real provider app with fast models, served on loopback."""

from __future__ import annotations

import pytest
from provider_support import FAST_CONFIG, Client
from pytest_aiohttp import AiohttpClient

from stack.provider import ProviderConfig, create_app


@pytest.fixture
def config() -> ProviderConfig:
    """Fast models so that the suite runs quickly; tests may override it."""
    return FAST_CONFIG


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, config: ProviderConfig) -> Client:
    """The real provider app on a loopback test server."""
    return await aiohttp_client(create_app(config))
