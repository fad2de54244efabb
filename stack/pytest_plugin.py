"""Session-scoped pytest fixtures that give tests the running stack.

Enable them with ``pytest_plugins = ["stack.pytest_plugin"]`` in a ``conftest.py``. A stack is
started once per test session (with ``DATABASE_URL`` and friends honoured) and stopped at the
end, also when tests fail or the run is interrupted.

- ``meltproof_stack``: the backend ``MELTPROOF_BACKEND`` names (embedded by default);
- ``meltproof_container_stack``: the container backend, whatever ``MELTPROOF_BACKEND`` says;
  its tests are skipped, with the reason, when no Docker engine answers or the images are not
  on this machine (``meltproof images build`` or ``docker pull`` puts them there).
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


@pytest.fixture(scope="session")
def meltproof_container_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole stack on the container backend, up for the test session."""
    from .containers.availability import unavailable_reason  # noqa: PLC0415 - Docker if asked

    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"the container backend cannot start here: {reason}")
    config = StackConfig.from_env(tmp_path_factory.mktemp("container-stack"), backend="containers")
    with start_stack(config) as stack:
        yield stack
