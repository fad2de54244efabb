"""A gateway that the stack starts as a command: any process, wired through the stack's links.

The command's argv, environment, files and client headers may hold placeholders that the stack
fills just before it starts the process:

==================== ==========================================================
``{port}``           the loopback port the gateway must listen on
``{provider_url}``   the simulated provider through its link, without ``/v1``
``{redis_url}``      Redis through its link (``redis://127.0.0.1:PORT/0``)
``{redis_host}``     the host of that link
``{redis_port}``     the port of that link
``{database_url}``   PostgreSQL through its link
``{run_dir}``        the stack's run directory (where ``files`` are written)
==================== ==========================================================

Which links a gateway uses is known from the placeholders it is given: a fault on a link whose
placeholder appears nowhere cannot touch it, and the scenario is refused before anything starts.
Any other ``{...}`` (a JSON or YAML brace) is left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from . import links


PLACEHOLDERS = (
    "port", "provider_url", "redis_url", "redis_host", "redis_port", "database_url", "run_dir",
)  # fmt: skip
_LINK_OF_PLACEHOLDER = {
    "provider_url": links.PROVIDER,
    "redis_url": links.REDIS,
    "redis_host": links.REDIS,
    "redis_port": links.REDIS,
    "database_url": links.POSTGRES,
}
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")

AuthMode = Literal["none", "one_key", "key_per_tenant", "tenant_header"]


@dataclass(frozen=True, kw_only=True)
class ClientAuth:
    """How clients authenticate to the gateway.

    ``none``: no key. ``one_key``: every tenant sends ``key``. ``key_per_tenant``: each tenant
    sends its own key from ``keys``. ``tenant_header``: every tenant sends ``key`` and the
    gateway tells tenants apart by the ``X-Tenant-Id`` header that every request carries.
    """

    mode: AuthMode = "none"
    key: str | None = None
    keys: Mapping[str, str] = field(default_factory=dict)

    def keys_for(self, tenants: Iterable[str]) -> dict[str, str]:
        """Tenant -> the key it sends (absent: no key)."""
        if self.mode == "key_per_tenant":
            return {name: self.keys[name] for name in tenants if name in self.keys}
        if self.mode in {"one_key", "tenant_header"} and self.key:
            return dict.fromkeys(tenants, self.key)
        return {}


@dataclass(frozen=True, kw_only=True)
class GatewayCommand:
    """How to start a gateway as a process; every string may hold placeholders."""

    name: str
    """A short label for reports and logs (``litellm``, ``my-proxy``)."""
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    """Added to the harness's environment."""
    ready_path: str = "/"
    """Polled with GET until it answers below 500."""
    start_timeout_s: float = 60.0
    files: Mapping[str, str] = field(default_factory=dict)
    """File name (relative to the run directory) -> text, written before the start."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Sent with every client request."""
    auth: ClientAuth = field(default_factory=ClientAuth)
    version: str | None = None
    """The gateway's version, when known (recorded in the testbed)."""

    def texts(self) -> list[str]:
        """Every string that may hold a placeholder."""
        return [
            *self.argv,
            *self.env.values(),
            *self.files.values(),
            *self.headers.values(),
        ]

    def links_used(self) -> frozenset[str]:
        """The links whose placeholders the command is given."""
        return links_in(self.texts())


def links_in(texts: Iterable[str]) -> frozenset[str]:
    """The links whose placeholders appear in ``texts``."""
    return frozenset(
        _LINK_OF_PLACEHOLDER[match]
        for text in texts
        for match in _PLACEHOLDER.findall(text)
        if match in _LINK_OF_PLACEHOLDER
    )


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with every known placeholder replaced by its value."""
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)
