"""Our gateway's config with its spans sent to the stack's traces receiver.

The gateway reads its settings from one file, so the stack writes a copy of the config it
was given with ``tracing`` switched on and pointed at the receiver (``gateway-traced.yaml``,
0600 like the original: it holds the tenants' keys); the rest of the file is unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from .errors import StackStartError


TRACED_CONFIG = "gateway-traced.yaml"


def traced_gateway_config(config: Path, otlp_url: str, directory: Path) -> Path:
    """Write ``config`` with tracing on, sending to ``otlp_url``, into ``directory``."""
    document = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    if not isinstance(document, dict):
        raise StackStartError(
            "gateway", f"{config}: the top level is not a mapping", "fix the gateway config"
        )
    given = document.get("tracing")
    document["tracing"] = {
        **(given if isinstance(given, dict) else {}),
        "enabled": True,
        "endpoint": otlp_url,
    }
    path = directory / TRACED_CONFIG
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        yaml.safe_dump(document, file, sort_keys=False)
    return path
