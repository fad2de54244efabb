"""Integration tests run against the real stack; each leaves it as it found it."""

from collections.abc import Iterator

import pytest

from stack import Stack


@pytest.fixture
def stack(meltproof_stack: Stack) -> Iterator[Stack]:
    """The session's stack, with Toxiproxy and the provider reset after the test."""
    yield meltproof_stack
    meltproof_stack.toxiproxy.reset()
    meltproof_stack.provider.reset()
