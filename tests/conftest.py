"""Shared fixtures: the real stack, started once per session (see stack.pytest_plugin).

Test helpers shared by several test folders live in ``tests/support`` and are imported by
bare module name (``from op_support import table_of``).
"""

import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent / "support"))

pytest_plugins = ["stack.pytest_plugin"]
