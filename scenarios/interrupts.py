"""Ctrl-C, SIGTERM and SIGHUP all become KeyboardInterrupt, so that cleanup runs."""

from __future__ import annotations

import signal
from types import FrameType


def _raise_interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def interrupt_on_signals() -> None:
    """Install the handlers (SIGINT explicitly: a shell starts background jobs ignoring it)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupt)
