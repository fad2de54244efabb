"""Where load goes: a base URL, the client's patience, its connection budget and API key."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """Where the load goes and how long a request may take before the client gives up."""

    base_url: str
    timeout_s: float = 30.0
    max_connections: int | None = None
    """None: a connection per outstanding request (as independent clients behave), up to
    what the open-files limit allows; see ``open_files``."""
    api_key: str | None = None
    """Sent for tenants whose share has no key of its own."""
