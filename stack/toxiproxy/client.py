"""A small synchronous client of the Toxiproxy HTTP API (standard library only).

Calls take a millisecond on loopback; async callers can run them with ``asyncio.to_thread``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import ToxiproxyError
from ..http_json import JsonApiClient


Stream = Literal["upstream", "downstream"]


@dataclass(frozen=True)
class Toxic:
    """A toxic on a proxy: ``type`` is Toxiproxy's name, ``attributes`` its parameters."""

    name: str
    type: str
    stream: Stream = "downstream"
    toxicity: float = 1.0
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Toxic:
        """Build from the API's JSON."""
        return cls(
            name=data["name"],
            type=data["type"],
            stream=data["stream"],
            toxicity=data["toxicity"],
            attributes=data.get("attributes") or {},
        )


@dataclass(frozen=True)
class Proxy:
    """A proxy as the API reports it; ``listen`` is the real address, even for port 0."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[Toxic, ...] = ()

    @property
    def port(self) -> int:
        """The port the proxy listens on."""
        return int(self.listen.rpartition(":")[2])

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Proxy:
        """Build from the API's JSON."""
        return cls(
            name=data["name"],
            listen=data["listen"],
            upstream=data["upstream"],
            enabled=data["enabled"],
            toxics=tuple(Toxic.from_api(t) for t in data.get("toxics") or ()),
        )


class ToxiproxyClient(JsonApiClient):
    """Proxies and toxics of one Toxiproxy server."""

    error = ToxiproxyError

    def version(self) -> str:
        """The server's version string."""
        return str(self._request("GET", "/version")["version"])

    def proxies(self) -> dict[str, Proxy]:
        """Every proxy, by name."""
        return {name: Proxy.from_api(p) for name, p in self._request("GET", "/proxies").items()}

    def create_proxy(self, name: str, *, listen: str, upstream: str) -> Proxy:
        """Create an enabled proxy; ``listen`` may use port 0 for an ephemeral port."""
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": True}
        return Proxy.from_api(self._request("POST", "/proxies", body))

    def delete_proxy(self, name: str) -> None:
        """Delete a proxy and close its connections."""
        self._request("DELETE", f"/proxies/{name}")

    def set_enabled(self, name: str, enabled: bool) -> Proxy:
        """Enable or disable a proxy; disabled, it refuses and drops every connection."""
        return Proxy.from_api(self._request("POST", f"/proxies/{name}", {"enabled": enabled}))

    def add_toxic(self, proxy: str, toxic: Toxic) -> Toxic:
        """Add a toxic to a proxy; it acts on new and existing connections."""
        body = {
            "name": toxic.name,
            "type": toxic.type,
            "stream": toxic.stream,
            "toxicity": toxic.toxicity,
            "attributes": dict(toxic.attributes),
        }
        return Toxic.from_api(self._request("POST", f"/proxies/{proxy}/toxics", body))

    def remove_toxic(self, proxy: str, name: str) -> None:
        """Remove one toxic from a proxy."""
        self._request("DELETE", f"/proxies/{proxy}/toxics/{name}")

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self._request("POST", "/reset")
