"""Integration tests run against the real stack; each leaves it as it found it."""

from collections.abc import Iterator

import pytest
import redis

from stack import Stack


@pytest.fixture
def stack(meltproof_stack: Stack) -> Iterator[Stack]:
    """The session's stack, with Toxiproxy, the provider and Redis reset after the test."""
    yield meltproof_stack
    meltproof_stack.toxiproxy.reset()
    meltproof_stack.provider.reset()
    with redis.Redis.from_url(meltproof_stack.endpoints.redis, socket_timeout=5) as client:
        client.flushall()
