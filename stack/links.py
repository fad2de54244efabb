"""The gateway's links to its dependencies: one Toxiproxy proxy each, under a fixed name.

=========== ======================= ==========================================
proxy name  link                    what breaking it shows
=========== ======================= ==========================================
``postgres`` gateway -> PostgreSQL   slow or lost retrieval and OLTP queries
``redis``    gateway -> Redis        cache, limiter and budget stores failing
``provider`` gateway -> LLM provider provider latency, resets, black holes
=========== ======================= ==========================================

Fault definitions and reports refer to links by these names.
"""

from __future__ import annotations

from collections.abc import Mapping

from .ports import LOOPBACK
from .toxiproxy import Proxy, ToxiproxyClient


POSTGRES = "postgres"
REDIS = "redis"
PROVIDER = "provider"
LINKS = (POSTGRES, REDIS, PROVIDER)


def create_links(client: ToxiproxyClient, upstreams: Mapping[str, str]) -> dict[str, Proxy]:
    """Create one proxy per link, each on an ephemeral loopback port; ``upstreams`` maps
    link name to ``host:port``."""
    return {
        name: client.create_proxy(name, listen=f"{LOOPBACK}:0", upstream=upstreams[name])
        for name in LINKS
    }
