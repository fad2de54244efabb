"""Built-in peers: third-party gateways that meltproof installs once and starts as a command.

``PEERS`` maps a peer's name to its adapter (a ``PeerAdapter``). Given the models a scenario
serves, an adapter installs its peer into the meltproof cache (once; pinned) and returns a
``GatewayCommand`` whose argv, environment, files and headers hold the stack's placeholders,
so the peer reaches the provider and Redis through the stack's links. Each peer is configured
as its own documentation recommends for production; each module's docstring says how, and
what the peer cannot do here. ``peer_command`` is the adapter of a name, with the cache the
environment names.

- ``litellm``: the LiteLLM proxy (PyPI ``litellm[proxy]``, in a venv of its own).
- ``portkey``: Portkey's open-source gateway (npm ``@portkey-ai/gateway``, run with Node).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

from stack.config import default_cache_dir
from stack.gateway_command import GatewayCommand

from . import litellm, portkey
from .served import PeerAdapter, ServedModel, fallback_chains


PEERS: Mapping[str, PeerAdapter] = MappingProxyType(
    {litellm.NAME: litellm.command, portkey.NAME: portkey.command}
)


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
        raise ValueError(f"no built-in peer is called {name!r}; there are {', '.join(PEERS)}")
    cache = environ.get("MELTPROOF_CACHE_DIR")
    cache_dir = Path(cache) if cache else default_cache_dir()
    return adapter(models, cache_dir=cache_dir, on_progress=on_progress, workers=workers)


__all__ = ["PEERS", "PeerAdapter", "ServedModel", "fallback_chains", "peer_command"]
