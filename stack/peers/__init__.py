"""Built-in peers: third-party gateways that meltproof installs once and starts as a command.

``PEERS`` maps a peer's name to its adapter (a ``PeerAdapter``). Given the models a scenario
serves, an adapter installs its peer into the meltproof cache (once; pinned) and returns a
``GatewayCommand`` whose argv, environment, files and headers hold the stack's placeholders,
so the peer reaches the provider and Redis through the stack's links. Each peer is configured
as its own documentation recommends for production; each module's docstring says how, and
what the peer cannot do here. ``peer_command`` is the adapter of a name, with the cache the
environment names. ``peer_links`` says which of the stack's links a peer uses, without
installing anything (each adapter module declares them as ``LINKS``; a test holds every
adapter's command to them), so that a fault on a link the peer does not use can be refused
before the install.

- ``litellm``: the LiteLLM proxy (PyPI ``litellm[proxy]``, in a venv of its own).
- ``portkey``: Portkey's open-source gateway (npm ``@portkey-ai/gateway``, run with Node).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

from stack.config import cache_dir_of
from stack.gateway_command import GatewayCommand

from . import litellm, portkey
from .served import PeerAdapter, PeerModel, ServedModel, fallback_chains


PEERS: Mapping[str, PeerAdapter] = MappingProxyType(
    {litellm.NAME: litellm.command, portkey.NAME: portkey.command}
)
_LINKS: Mapping[str, frozenset[str]] = MappingProxyType(
    {litellm.NAME: litellm.LINKS, portkey.NAME: portkey.LINKS}
)


def peer_links(name: str) -> frozenset[str]:
    """The links (``stack.links`` names) through which peer ``name`` reaches its upstreams;
    nothing is installed."""
    links = _LINKS.get(name)
    if links is None:
        raise ValueError(_unknown(name))
    return links


def peer_command(
    name: str,
    models: Sequence[ServedModel],
    *,
    on_progress: Callable[[str], None],
    environ: Mapping[str, str] = os.environ,
    workers: int = 1,
) -> GatewayCommand:
    """The command of peer ``name``, installed into ``MELTPROOF_CACHE_DIR`` (or the default
    cache) the first time."""
    adapter = PEERS.get(name)
    if adapter is None:
        raise ValueError(_unknown(name))
    return adapter(
        models, cache_dir=cache_dir_of(environ), on_progress=on_progress, workers=workers
    )


def _unknown(name: str) -> str:
    return f"no built-in peer is called {name!r}; there are {', '.join(PEERS)}"


__all__ = [
    "PEERS",
    "PeerAdapter",
    "PeerModel",
    "ServedModel",
    "fallback_chains",
    "peer_command",
    "peer_links",
]
