"""Container backend tests run where a Docker engine answers and the images are here."""

from __future__ import annotations

import pytest

from stack.containers.availability import unavailable_reason


def require_container_backend() -> None:
    """Skip the test, saying why, when the container backend cannot start here."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"the container backend cannot start here: {reason}")
