"""Shared fixtures: the real stack, started once per session (see stack.pytest_plugin).

Test helpers shared by several test folders live in ``tests/support`` and are imported by
bare module name (``from op_support import table_of``).
"""

import sys
from pathlib import Path

import pytest


sys.path.insert(0, str(Path(__file__).parent / "support"))

pytest_plugins = ["stack.pytest_plugin"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs the real stack ``integration``: those in
    ``tests/integration`` and those that use the session's stack, wherever they live."""
    integration = Path(__file__).parent / "integration"
    for item in items:
        in_folder = Path(str(item.fspath)).is_relative_to(integration)
        if in_folder or "meltproof_stack" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)
