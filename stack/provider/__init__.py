"""A simulated OpenAI-compatible LLM provider with a latency model, rate limits and faults.

app = create_app(ProviderConfig())          # an aiohttp application
python -m stack.provider --port 0           # or as its own process
"""

from __future__ import annotations

from stack.provider.app import create_app
from stack.provider.config import KeyLimits, ModelSpec, ProviderConfig
from stack.provider.faults import FaultSettings


__all__ = ["FaultSettings", "KeyLimits", "ModelSpec", "ProviderConfig", "create_app"]
