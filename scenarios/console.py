"""The CLI's consoles and exit codes, shared by its commands."""

from __future__ import annotations

from rich.console import Console


EXIT_HARNESS_ERROR = 3

console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)
