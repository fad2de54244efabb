"""The real stack on loopback: PostgreSQL+pgvector, Redis, Toxiproxy, the provider, the gateway.

with start_stack(StackConfig.from_env(run_dir)) as stack:
    stack.endpoints.gateway          # http://127.0.0.1:PORT (None with start_gateway=False)
    stack.toxiproxy.add_toxic(links.REDIS, Toxic("slow", "latency", attributes={...}))
"""

from . import links
from .config import Ports, StackConfig
from .errors import ProviderControlError, StackError, StackStartError, ToxiproxyError
from .provider_control import ProviderControl
from .service import ServiceInfo
from .stack import Endpoints, Stack, start_stack
from .toxiproxy import Proxy, Toxic, ToxiproxyClient


__all__ = [
    "Endpoints",
    "Ports",
    "ProviderControl",
    "ProviderControlError",
    "Proxy",
    "ServiceInfo",
    "Stack",
    "StackConfig",
    "StackError",
    "StackStartError",
    "Toxic",
    "ToxiproxyClient",
    "ToxiproxyError",
    "links",
    "start_stack",
]
