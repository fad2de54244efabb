"""The gateway's config for a stack: demo tenants with fresh API keys, or the user's file.

The demo tenants (``acme``, ``globex``, ``initech``) get random keys at every start, and the
gateway a random ``/metrics`` scrape token, written with the rest of the config to
``<run dir>/gateway.yaml`` (mode 0600) and never to ``stack.json``. The gateway runs in the
stack's profile; its Redis and provider URLs are the Toxiproxy links, passed on the command
line.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

import yaml


DEMO_TENANTS = ("acme", "globex", "initech")


def demo_api_keys() -> dict[str, str]:
    """A fresh key per demo tenant."""
    return {name: f"sk-{name}-{secrets.token_hex(12)}" for name in DEMO_TENANTS}


def write_gateway_config(path: Path, api_keys: Mapping[str, str]) -> Path:
    """Write a config with one tenant per key and a fresh metrics scrape token; readable by
    the owner only."""
    document = {
        "tenants": [{"name": name, "api_key": key} for name, key in api_keys.items()],
        "metrics_token": f"metrics-{secrets.token_hex(16)}",
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        yaml.safe_dump(document, file, sort_keys=False)
    return path


def _document(path: Path) -> dict[str, object]:
    """The top-level mapping of a gateway config file (empty when it is none)."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document if isinstance(document, dict) else {}


def api_keys_of(path: Path) -> dict[str, str]:
    """Tenant name -> API key of a user's gateway config file."""
    tenants = _document(path).get("tenants") or []
    if not isinstance(tenants, list):
        return {}
    return {
        str(t["name"]): str(t["api_key"])
        for t in tenants
        if isinstance(t, dict) and "name" in t and "api_key" in t
    }


def metrics_token_of(path: Path) -> str | None:
    """The ``/metrics`` scrape token of a gateway config file, if it sets one."""
    token = _document(path).get("metrics_token")
    return str(token) if token else None
