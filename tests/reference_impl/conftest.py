"""Fixtures of the gateway's unit tests: one fake Redis server, shared by its clients."""

import pytest
from fakeredis import FakeServer
from fakeredis.aioredis import FakeRedis


@pytest.fixture
def server():
    return FakeServer()


@pytest.fixture
async def fake(server):
    client = FakeRedis(server=server)
    yield client
    await client.aclose()
