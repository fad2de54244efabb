"""Run a coroutine on uvloop where it is installed, else on asyncio's default loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar


T = TypeVar("T")


def fast_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory, or None (the default loop) where uvloop is missing."""
    try:
        import uvloop  # noqa: PLC0415 - optional: not on Windows
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_with_fast_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the fastest loop available."""
    with asyncio.Runner(loop_factory=fast_loop_factory()) as runner:
        return runner.run(coroutine)
