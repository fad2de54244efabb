"""A session-scoped pytest fixture that gives tests the running stack.

Enable it with ``pytest_plugins = ["stack.pytest_plugin"]`` in a ``conftest.py``. The stack is
started once per test session (with ``DATABASE_URL`` and friends honoured) and stopped at the
end, also when tests fail or the run is interrupted.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .config import StackConfig
from .stack import Stack, start_stack


@pytest.fixture(scope="session")
def meltproof_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole stack, up for the test session."""
    config = StackConfig.from_env(tmp_path_factory.mktemp("stack"))
    with start_stack(config) as stack:
        yield stack
