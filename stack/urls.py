"""Small helpers for the service URLs the stack hands out."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def host_and_port(url: str, *, default_port: int) -> tuple[str, int]:
    """The host and port a URL points at, for a Toxiproxy upstream."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"{url!r} has no host; give a URL such as scheme://host:port/...")
    return parts.hostname, parts.port or default_port


def with_host_port(url: str, host: str, port: int) -> str:
    """The same URL (user, path and query kept) pointed at ``host:port``."""
    parts = urlsplit(url)
    userinfo, _, _ = parts.netloc.rpartition("@")
    netloc = f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=netloc))
