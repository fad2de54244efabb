"""Where load goes: a base URL, the client's patience, connection budget, API key and headers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .hdr import HIGHEST_US


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
    headers: Mapping[str, str] = field(default_factory=dict)
    """Sent with every request (a gateway's routing or config headers)."""
    traceparent: bool = False
    """Send every request with a W3C ``traceparent`` of a fresh trace, sampled, and record
    its trace id with the request's row (a traced target then traces every request)."""

    def __post_init__(self) -> None:
        url = urlsplit(self.base_url)
        if url.scheme not in {"http", "https"} or not url.hostname:
            raise ValueError(
                f"target URL {self.base_url!r} must be http:// or https:// with a host, "
                "e.g. http://127.0.0.1:8080"
            )
        if url.query or url.fragment:
            raise ValueError(f"target URL {self.base_url!r} must not have a query or fragment")
        if url.path.rstrip("/").endswith("/v1"):
            raise ValueError(
                f"target URL {self.base_url!r} ends in /v1, but request paths start with /v1: "
                "give the base URL without it"
            )
        if not 0 < self.timeout_s <= HIGHEST_US / 1e6:
            raise ValueError(
                f"timeout_s must be in (0, {HIGHEST_US / 1e6:g}], got {self.timeout_s}"
            )
        if self.max_connections is not None and self.max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {self.max_connections}")
