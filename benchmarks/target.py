"""Where load goes: a base URL, the client's patience, its connection budget and API key."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """Where the load goes and how long a request may take before the client gives up."""

    base_url: str
    timeout_s: float = 30.0
    max_connections: int = 0
    """0: a connection per outstanding request, as real clients behave under load."""
    api_key: str | None = None
    """Sent for tenants whose share has no key of its own."""
