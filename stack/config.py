"""How the stack is started: ports, binaries, existing servers, where to write."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import platformdirs

from .backend import DEFAULT as DEFAULT_BACKEND
from .backend import Backend, backend_of
from .gateway_command import GatewayCommand


def default_cache_dir() -> Path:
    """The user's cache directory for meltproof (``cache_dir_of`` lets the environment
    override it)."""
    return Path(platformdirs.user_cache_dir("meltproof"))


def cache_dir_of(environ: Mapping[str, str]) -> Path:
    """``MELTPROOF_CACHE_DIR`` when set, else the user's cache directory."""
    value = environ.get("MELTPROOF_CACHE_DIR")
    return Path(value) if value else default_cache_dir()


@dataclass(frozen=True, kw_only=True)
class Ports:
    """Fixed loopback ports per service; None picks an ephemeral port."""

    postgres: int | None = None
    redis: int | None = None
    toxiproxy: int | None = None
    provider: int | None = None
    gateway: int | None = None
    otlp: int | None = None
    """The traces receiver's OTLP/HTTP port (with ``traces``)."""
    traces_query: int | None = None
    """The traces receiver's query API port (with ``traces``)."""


@dataclass(frozen=True, kw_only=True)
class StackConfig:
    """Everything ``start_stack`` needs; ``from_env`` fills it from the environment."""

    run_dir: Path
    ports: Ports = field(default_factory=Ports)
    provider_config: Path | None = None
    database_url: str | None = None
    redis_url: str | None = None
    toxiproxy_url: str | None = None
    postgres_bindir: Path | None = None
    redis_server: Path | None = None
    toxiproxy_server: Path | None = None
    go: str | None = None
    cache_dir: Path = field(default_factory=default_cache_dir)
    start_timeout_s: float = 30.0
    gateway_profile: str = "hardened"
    gateway_workers: int = 1
    gateway_config: Path | None = None
    """The user's gateway config (tenants, models, patterns); demo tenants when None."""
    gateway_api_keys: Mapping[str, str] | None = None
    """Tenant -> API key of ``gateway_config`` when the caller wrote it and knows them; None:
    read from the file."""
    gateway_source: Path | None = None
    """A source tree (e.g. a baseline's git worktree) whose ``reference_impl`` runs as the
    gateway instead of the installed one."""
    gateway_command: GatewayCommand | None = None
    """Any gateway, started as a command wired through the links, instead of ours."""
    start_gateway: bool = True
    """False: no gateway at all (``meltproof up --no-gateway``: the user runs their own)."""
    traces: bool = False
    """Start a traces receiver (Jaeger v2, built once with Go) and have our gateway send its
    spans there."""
    jaeger: Path | None = None
    """A Jaeger v2 binary to use instead of the cached build (``MELTPROOF_JAEGER``)."""
    backend: Backend = DEFAULT_BACKEND
    """Where PostgreSQL, Redis and Toxiproxy run (``stack.backend``; ``MELTPROOF_BACKEND``)."""

    @classmethod
    def from_env(
        cls, run_dir: Path, *, environ: Mapping[str, str] = os.environ, **overrides: Any
    ) -> StackConfig:
        """Read ``DATABASE_URL``, ``REDIS_URL``, ``TOXIPROXY_URL`` and ``MELTPROOF_*`` settings
        (``MELTPROOF_BACKEND`` among them).

        Keyword ``overrides`` win over the environment.
        """

        def path(name: str) -> Path | None:
            value = environ.get(name)
            return Path(value) if value else None

        from_environ = cls(
            run_dir=run_dir,
            database_url=environ.get("DATABASE_URL") or None,
            redis_url=environ.get("REDIS_URL") or None,
            toxiproxy_url=environ.get("TOXIPROXY_URL") or None,
            postgres_bindir=path("MELTPROOF_POSTGRES_BINDIR"),
            redis_server=path("MELTPROOF_REDIS_SERVER"),
            toxiproxy_server=path("MELTPROOF_TOXIPROXY_SERVER"),
            jaeger=path("MELTPROOF_JAEGER"),
            cache_dir=cache_dir_of(environ),
            backend=backend_of(environ),
        )
        return replace(from_environ, **overrides)
