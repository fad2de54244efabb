"""Bring the whole stack up on loopback, record it, and tear it down whatever happens.

Start order: everything that can fail without starting a process is resolved first (ports,
binaries, the one-time Toxiproxy build, and with ``traces`` the one-time Jaeger build); then
PostgreSQL, Redis, Toxiproxy, the provider (and Jaeger) are launched together and waited for;
then the three Toxiproxy links are created, before any client can connect; last the gateway
(ours, or any gateway started from a ``GatewayCommand``; none with ``start_gateway=False``),
which reaches every dependency through its link, and with ``traces`` sends its spans to Jaeger
(ours does). A failure at any step stops what already runs and raises ``StackStartError``.
Services stop in the reverse order, so the gateway's last spans still reach Jaeger.

The backend (``stack.backend``) decides where PostgreSQL, Redis and Toxiproxy run: processes
of our own, or containers (``stack.containers``, imported only then); links, ``stack.json``
and the stop guarantees are the same.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from . import links
from .backend import Backend
from .command_service import CommandGateway
from .config import StackConfig
from .errors import PortTakenError
from .gateway_command import GatewayCommand
from .gateway_config import api_keys_of, demo_api_keys, write_gateway_config
from .gateway_traces import traced_gateway_config
from .jaeger import JaegerQuery, JaegerServer, find_jaeger
from .ports import LOOPBACK, claim_port
from .postgres import ExistingPostgres, PostgresServer
from .postgres_install import find_postgres
from .process import ProcessControl, ProcessControlError
from .provider_control import ProviderControl
from .python_service import PythonService
from .redis_server import ExistingRedis, RedisServer, find_redis_server
from .service import Service, ServiceInfo
from .toxiproxy import ExistingToxiproxy, Proxy, ToxiproxyClient, ToxiproxyServer, find_toxiproxy
from .urls import host_and_port, with_host_port


if TYPE_CHECKING:
    from .containers.images import ImageRecord
    from .containers.services import (
        ContainerBackend,
        PostgresContainer,
        RedisContainer,
        ToxiproxyContainer,
    )

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Endpoints:
    """Where each service answers, directly and through its Toxiproxy link."""

    provider: str
    toxiproxy: str
    gateway: str | None
    """None when the stack runs no gateway (the user runs their own against the links)."""
    postgres: str
    redis: str
    provider_proxied: str
    postgres_proxied: str
    redis_proxied: str
    otlp: str | None = None
    """The traces receiver's OTLP/HTTP base URL (None: the stack runs no receiver)."""
    traces: str | None = None
    """The traces receiver's query API (``/api/v3/traces/{trace_id}``)."""

    def labelled(self) -> list[tuple[str, str]]:
        """(label, URL) pairs in the order ``meltproof up`` prints them."""
        return [
            ("provider", self.provider),
            ("provider via proxy", self.provider_proxied),
            ("toxiproxy api", self.toxiproxy),
            *([("gateway", self.gateway)] if self.gateway else []),
            ("postgres", self.postgres),
            ("postgres via proxy", self.postgres_proxied),
            ("redis", self.redis),
            ("redis via proxy", self.redis_proxied),
            *([("otlp (traces in)", self.otlp)] if self.otlp else []),
            *([("traces api", self.traces)] if self.traces else []),
        ]


class Stack:
    """The running stack. Use it as a context manager, or call ``stop`` yourself."""

    def __init__(
        self,
        run_dir: Path,
        toxiproxy: ToxiproxyClient,
        *,
        backend: Backend = "embedded",
        controls: dict[str, ProcessControl] | None = None,
    ) -> None:
        self.run_dir = run_dir
        self.toxiproxy = toxiproxy
        self.backend: Backend = backend
        self.services: dict[str, ServiceInfo] = {}
        self.proxies: dict[str, Proxy] = {}
        self.stack_id: str | None = None
        """The id on the labels of the stack's containers (None: the stack runs none)."""
        self.images: dict[str, ImageRecord] = {}
        """Service name -> the image its container ran (the container backend)."""
        self._controls = controls or {}
        self._started: list[Service] = []
        self._endpoints: Endpoints | None = None
        self.api_keys: dict[str, str] = {}
        """Tenant name -> the gateway API key of that tenant."""
        self.gateway_config: Path | None = None
        """The gateway's config file (demo tenants' keys are in it)."""
        self.gateway_command: GatewayCommand | None = None
        """The command that started the gateway, when it is not ours."""
        self.gateway_headers: dict[str, str] = {}
        """Headers every client request to a command gateway carries."""

    @property
    def endpoints(self) -> Endpoints:
        """Every URL of the stack (available once the start has completed)."""
        if self._endpoints is None:
            raise RuntimeError("the stack has not finished starting")
        return self._endpoints

    @property
    def provider(self) -> ProviderControl:
        """The simulated provider's control API."""
        return ProviderControl(self.endpoints.provider)

    @property
    def traces(self) -> JaegerQuery | None:
        """The traces receiver's query API; None when the stack runs no receiver."""
        url = self.endpoints.traces
        return JaegerQuery(url) if url else None

    def controls(self, name: str) -> bool:
        """Whether the process of service ``name`` is this stack's own to signal (see
        ``process_control``)."""
        return name in self._controls

    def process_control(self, name: str) -> ProcessControl:
        """The process of service ``name`` ("redis" or "postgres"), for process faults: a
        process of our own, or a container (paused, killed and started again).

        Only a server this stack started can be controlled: ``ProcessControlError`` for an
        existing server (``REDIS_URL``, ``DATABASE_URL``), which meltproof never signals.
        ``stop`` stops the process also after it was killed and started again.
        """
        for service in self._started:
            if service.name != name:
                continue
            if name in self._controls:
                return self._controls[name]
            if isinstance(service, ExistingRedis | ExistingPostgres):
                raise ProcessControlError(
                    f"{name} is an existing server ({service.url}) that this stack did not"
                    " start; meltproof never signals it, so process faults cannot target it"
                )
        raise ProcessControlError(
            f"this stack runs no {name} process that faults can control"
            " (only its own redis and postgres)"
        )

    def launch(self, service: Service) -> None:
        """Launch a service and remember to stop it."""
        self._started.append(service)
        service.launch()

    def stop(self) -> None:
        """Stop every service, last started first; Ctrl-C cannot interrupt the teardown."""
        with _signals_deferred():
            while self._started:
                self._started.pop().stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def record(self, endpoints: Endpoints) -> Path:
        """Set the endpoints and write ``stack.json`` into the run directory."""
        self._endpoints = endpoints
        path = self.run_dir / "stack.json"
        document = {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "harness_pid": os.getpid(),
            "backend": self.backend,
            "endpoints": asdict(endpoints),
            "services": {name: asdict(info) for name, info in self.services.items()},
            "links": {name: {"listen": p.listen, "upstream": p.upstream}
                      for name, p in self.proxies.items()},
        }  # fmt: skip
        if self.stack_id is not None:
            document["stack_id"] = self.stack_id
            document["images"] = {name: asdict(image) for name, image in self.images.items()}
        path.write_text(json.dumps(document, indent=2) + "\n")
        return path


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while the block runs (main thread only), then resend."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda signum, _frame: received.append(signum))
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in received[:1]:
            signal.raise_signal(signum)


START_ATTEMPTS = 3


def start_stack(config: StackConfig, *, progress: Progress | None = None) -> Stack:
    """Start every service of the stack (see the module docstring) on ``config.backend``; the
    caller must stop it.

    An ephemeral port is free when chosen but may be taken (by any outgoing connection) before
    its server binds it; such a start is stopped and tried again with fresh ports.
    """
    say = progress or (lambda _message: None)
    attempt = 1
    while True:
        try:
            return _start_once(config, say)
        except PortTakenError as exc:
            if attempt == START_ATTEMPTS:
                raise
            attempt += 1
            say(f"{exc.service}: its port was taken meanwhile; starting again")


def _start_once(config: StackConfig, say: Progress) -> Stack:
    """One attempt at starting the stack."""
    backend = config.backend
    log_dir = config.run_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    containers = _container_backend(log_dir, say) if backend == "containers" else None
    postgres, redis, toxiproxy = _dependencies(config, log_dir, say, containers)
    receiver = _traces_receiver(config, log_dir, say)
    provider_args = ["--config", str(config.provider_config)] if config.provider_config else []
    provider = PythonService(
        "provider",
        "stack.provider",
        port=claim_port("provider", config.ports.provider, "--provider-port"),
        log_dir=log_dir,
        args=provider_args,
    )
    gateway_port = claim_port("gateway", config.ports.gateway, "--gateway-port")
    controls: dict[str, ProcessControl] = {
        server.name: server
        for server in (postgres, redis)
        if not isinstance(server, ExistingPostgres | ExistingRedis)
    }
    stack = Stack(config.run_dir, toxiproxy.client, backend=backend, controls=controls)
    if containers is not None:
        stack.stack_id = containers.stack_id
    services: list[Service] = [postgres, redis, toxiproxy, provider]
    if receiver is not None:
        services.append(receiver)
    try:
        for service in services:
            say(f"starting {service.name}")
            stack.launch(service)
        deadline = time.monotonic() + config.start_timeout_s
        for service in services:
            stack.services[service.name] = service.wait_ready(deadline)
        if containers is not None:
            stack.images = containers.images()
        stack.proxies = links.create_links(
            toxiproxy.client,
            {
                links.POSTGRES: _address(postgres.url, 5432),
                links.REDIS: _address(redis.url, 6379),
                links.PROVIDER: _address(provider.url, 80),
            },
        )
        provider_proxied = _via(provider.url, stack.proxies[links.PROVIDER])
        redis_proxied = _via(redis.url, stack.proxies[links.REDIS])
        postgres_proxied = _via(postgres.url, stack.proxies[links.POSTGRES])
        endpoints = Endpoints(
            provider=provider.url,
            toxiproxy=toxiproxy.url,
            gateway=None,
            postgres=postgres.url,
            redis=redis.url,
            provider_proxied=provider_proxied,
            postgres_proxied=postgres_proxied,
            redis_proxied=redis_proxied,
            otlp=receiver.otlp_url if receiver else None,
            traces=receiver.url if receiver else None,
        )
        if config.start_gateway:
            gateway = _gateway(config, stack, endpoints, gateway_port, log_dir)
            say("starting gateway")
            stack.launch(gateway)
            timeout_s = (
                config.gateway_command.start_timeout_s
                if config.gateway_command
                else config.start_timeout_s
            )
            stack.services["gateway"] = gateway.wait_ready(time.monotonic() + timeout_s)
            endpoints = replace(endpoints, gateway=gateway.url)
        stack.record(endpoints)
    except BaseException:
        stack.stop()
        raise
    return stack


def _gateway(
    config: StackConfig, stack: Stack, endpoints: Endpoints, port: int, log_dir: Path
) -> PythonService | CommandGateway:
    """The gateway under test: a command wired through the links, or ours."""
    if config.gateway_command is not None:
        redis_host, redis_port = host_and_port(endpoints.redis_proxied, default_port=6379)
        gateway = CommandGateway(
            config.gateway_command,
            port=port,
            values={
                "provider_url": endpoints.provider_proxied,
                "redis_url": endpoints.redis_proxied,
                "redis_host": redis_host,
                "redis_port": str(redis_port),
                "database_url": endpoints.postgres_proxied,
            },
            run_dir=config.run_dir,
            log_dir=log_dir,
        )
        stack.gateway_command = config.gateway_command
        stack.gateway_headers = gateway.headers
        return gateway
    gateway_config = config.gateway_config
    if gateway_config is None:
        stack.api_keys = demo_api_keys()
        gateway_config = write_gateway_config(config.run_dir / "gateway.yaml", stack.api_keys)
    elif config.gateway_api_keys is not None:
        stack.api_keys = dict(config.gateway_api_keys)
    else:
        stack.api_keys = api_keys_of(gateway_config)
    if endpoints.otlp is not None:
        gateway_config = traced_gateway_config(gateway_config, endpoints.otlp, config.run_dir)
    stack.gateway_config = gateway_config
    return PythonService(
        "gateway",
        "reference_impl",
        port=port,
        log_dir=log_dir,
        args=[
            "--provider-url", endpoints.provider_proxied,
            "--redis-url", endpoints.redis_proxied,
            "--database-url", endpoints.postgres_proxied,
            "--config", str(gateway_config),
            "--profile", config.gateway_profile,
            "--workers", str(config.gateway_workers),
        ],
        source=config.gateway_source,
    )  # fmt: skip


def _container_backend(log_dir: Path, say: Progress) -> ContainerBackend:
    """The container backend's servers (Docker's client is imported only for it)."""
    from .containers.services import ContainerBackend  # noqa: PLC0415 - Docker only if asked

    return ContainerBackend(log_dir, say)


def _dependencies(
    config: StackConfig, log_dir: Path, say: Progress, containers: ContainerBackend | None
) -> tuple[
    PostgresServer | PostgresContainer | ExistingPostgres,
    RedisServer | RedisContainer | ExistingRedis,
    ToxiproxyServer | ToxiproxyContainer | ExistingToxiproxy,
]:  # fmt: skip
    """Resolve PostgreSQL, Redis and Toxiproxy: ports, binaries or images, or the existing
    servers (an existing server's URL wins over either backend)."""
    postgres: PostgresServer | PostgresContainer | ExistingPostgres
    if config.database_url:
        postgres = ExistingPostgres(config.database_url)
    else:
        port = claim_port("postgres", config.ports.postgres, "--postgres-port")
        if containers is not None:
            postgres = containers.postgres(port)
        else:
            install = find_postgres(config.postgres_bindir)
            postgres = PostgresServer(install, port=port, log_dir=log_dir)
    redis: RedisServer | RedisContainer | ExistingRedis
    if config.redis_url:
        redis = ExistingRedis(config.redis_url)
    else:
        port = claim_port("redis", config.ports.redis, "--redis-port")
        if containers is not None:
            redis = containers.redis(port)
        else:
            redis = RedisServer(find_redis_server(config.redis_server), port=port, log_dir=log_dir)
    toxiproxy: ToxiproxyServer | ToxiproxyContainer | ExistingToxiproxy
    if config.toxiproxy_url:
        toxiproxy = ExistingToxiproxy(config.toxiproxy_url, links.LINKS)
    else:
        port = claim_port("toxiproxy", config.ports.toxiproxy, "--toxiproxy-port")
        if containers is not None:
            toxiproxy = containers.toxiproxy(port)
        else:
            binary = find_toxiproxy(
                config.cache_dir, configured=config.toxiproxy_server, go=config.go, on_build=say
            )
            toxiproxy = ToxiproxyServer(binary, port=port, log_dir=log_dir)
    return postgres, redis, toxiproxy


def _traces_receiver(config: StackConfig, log_dir: Path, say: Progress) -> JaegerServer | None:
    """Jaeger, when the stack is asked for traces: its ports and binary (built once)."""
    if not config.traces:
        return None
    otlp_port = claim_port("jaeger", config.ports.otlp, "--otlp-port")
    query_port = claim_port("jaeger", config.ports.traces_query, "--traces-port")
    binary = find_jaeger(config.cache_dir, configured=config.jaeger, go=config.go, on_build=say)
    return JaegerServer(
        binary,
        otlp_port=otlp_port,
        query_port=query_port,
        health_port=claim_port("jaeger", None, ""),
        run_dir=config.run_dir,
        log_dir=log_dir,
    )


def _address(url: str, default_port: int) -> str:
    """``host:port`` of a service URL, as a Toxiproxy upstream."""
    host, port = host_and_port(url, default_port=default_port)
    return f"{host}:{port}"


def _via(url: str, proxy: Proxy) -> str:
    """The service URL rewritten to go through its proxy."""
    return with_host_port(url, LOOPBACK, proxy.port)
