"""meltproof's reference gateway: an aiohttp service in front of OpenAI-compatible providers.

It knows nothing of the harness; the harness starts it like any other gateway. The package
imports nothing until asked, so that one pattern's module can be used (and tested) alone.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any


if TYPE_CHECKING:
    from .app import create_app
    from .config import GatewayConfig

__all__ = ["GatewayConfig", "create_app"]


def __getattr__(name: str) -> Any:
    modules = {"create_app": "app", "GatewayConfig": "config"}
    if name not in modules:
        raise AttributeError(name)
    return getattr(importlib.import_module(f".{modules[name]}", __name__), name)
