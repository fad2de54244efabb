"""meltproof's reference gateway: an aiohttp service in front of OpenAI-compatible providers.

It knows nothing of the harness; the harness starts it like any other gateway.
"""

from .app import create_app
from .config import GatewayConfig


__all__ = ["GatewayConfig", "create_app"]
