"""A server of the stack in a container, with the guarantees of a process of our own.

The container is started with testcontainers, its reaper (Ryuk) off (meltproof never starts
it, whatever ``TESTCONTAINERS_RYUK_DISABLED`` says): every container carries the labels of
``stack.containers.labels``, by which ``stack.containers.cleanup`` finds what a
killed harness left behind. Its port is published on 127.0.0.1 only, under the port claimed
for the service, so that a container started again (the ``kill_restart`` fault) answers where
it did; a container on the host's network listens on that loopback port itself.

- ``ensure_image`` (before any container starts): the image is pulled where it is missing,
  or the error names ``meltproof images build``.
- ``launch``: the container is created and started.
- ``wait_ready``: the service answers, or the error shows the container's log.
- ``stop``: the container's log is kept in the run directory, then the container is removed
  with its volumes.
- process faults: ``freeze`` pauses the container (the cgroup freezer: every process of it
  stops, its sockets stay open), ``thaw`` unpauses it, ``kill`` kills it (SIGKILL), ``start``
  starts the same container again (same port, same file system).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

import docker
from docker.errors import APIError, DockerException, ImageNotFound
from docker.models.containers import Container
from docker.models.images import Image
from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer

from ..errors import PortTakenError, StackStartError
from ..ports import LOOPBACK
from ..service import ServiceInfo
from .cleanup import remove_container
from .images import ImageRecord
from .labels import STACK, stack_labels


Say = Callable[[str], None]
_POLL_INTERVAL_S = 0.05
_KILL_TIMEOUT_S = 30
_ALIVE = ("running", "paused")
_PORT_TAKEN = ("address already in use", "port is already allocated")


@dataclass(frozen=True)
class ContainerSpec:
    """What runs in a service's container, and where it answers."""

    service: str
    image: str
    command: tuple[str, ...]
    port: int
    """The loopback port of this machine where the service answers."""
    container_port: int | None
    """The service's port inside the container, published on ``LOOPBACK:port``; None for a
    container on the host's network, which listens on ``port`` itself."""
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """More options of the container's creation (``shm_size``)."""


class ContainerServer(ABC):
    """One service's container, from launch to a removal that leaves nothing behind."""

    def __init__(self, spec: ContainerSpec, *, url: str, stack_id: str, log_dir: Path) -> None:
        self.name = spec.service
        self.url = url
        self.log_path = log_dir / f"{spec.service}.log"
        self.image: ImageRecord | None = None
        """The image the container runs (once launched)."""
        self._spec = spec
        self._labels = stack_labels(stack_id, spec.service)
        self._container: DockerContainer | None = None

    @abstractmethod
    def _answers(self) -> bool:
        """Whether the service answers now."""

    @abstractmethod
    def _version(self, image: Image) -> str:
        """The service's version, asked once it answers."""

    def launch(self) -> None:
        """Create and start the container without waiting for the service."""
        testcontainers_config.ryuk_disabled = True
        spec = self._spec
        container = (
            DockerContainer(spec.image, env=dict(spec.env))
            .with_command(list(spec.command))
            .with_name(f"meltproof-{self._labels[STACK]}-{spec.service}")
        )
        if spec.container_port is None:
            network = "host"
        else:
            network = "bridge"
            ports = cast("dict[str, object]", container.ports)
            ports[f"{spec.container_port}/tcp"] = (LOOPBACK, spec.port)
        container.with_kwargs(labels=self._labels, network=network, **spec.options)
        self._container = container
        try:
            container.start()
        except APIError as exc:
            reason = str(exc.explanation or exc)
            if any(sign in reason.lower() for sign in _PORT_TAKEN):
                raise PortTakenError(
                    self.name,
                    f"its port {LOOPBACK}:{spec.port} was taken by another process: {reason}",
                    "start again: ephemeral ports are chosen afresh",
                ) from exc
            raise StackStartError(
                self.name,
                f"its container ({spec.image}) did not start: {reason}",
                "read the Docker engine's log",
            ) from exc
        self.image = ImageRecord.of(spec.image, self._wrapped().image)

    def wait_ready(self, deadline: float) -> ServiceInfo:
        """Wait until the service answers; then ask its version."""
        self._wait_answering(deadline)
        assert self.image is not None  # noqa: S101 - set by launch
        version = self._version(self._wrapped().image)
        return ServiceInfo(self.name, self.url, self.image.describe(), version)

    def _wait_answering(self, deadline: float) -> None:
        while not self._answers():
            container = self._wrapped()
            container.reload()
            if container.status not in _ALIVE and container.status != "created":
                log = self._keep_log()
                code = container.attrs["State"].get("ExitCode")
                if any(sign in log.lower() for sign in _PORT_TAKEN):
                    raise PortTakenError(
                        self.name,
                        f"its port was taken by another process; last lines of its log:\n"
                        f"{_tail(log)}",
                        "start again: ephemeral ports are chosen afresh",
                    )
                raise StackStartError(
                    self.name,
                    f"its container exited with code {code} during start; last lines of its"
                    f" log:\n{_tail(log)}",
                    f"read the whole log at {self.log_path}",
                )
            if time.monotonic() > deadline:
                raise StackStartError(
                    self.name,
                    "not ready before the start timeout; last lines of its log:\n"
                    f"{_tail(self._keep_log())}",
                    f"read the log at {self.log_path}; on a loaded machine raise the start timeout",
                )
            time.sleep(_POLL_INTERVAL_S)

    def stop(self) -> None:
        """Keep the container's log, then remove the container and its volumes."""
        container = self._container
        if container is None:
            return
        self._container = None
        wrapped = container._container
        if wrapped is not None:
            try:
                self._keep_log(wrapped)
            finally:
                remove_container(wrapped)
        container.get_docker_client().client.close()

    def freeze(self) -> None:
        """Pause the container: every process of it stops; its sockets stay open."""
        container = self._wrapped()
        container.reload()
        if container.status == "running":
            container.pause()

    def thaw(self) -> None:
        """Unpause the container; harmless on a running one."""
        container = self._wrapped()
        container.reload()
        if container.status == "paused":
            container.unpause()

    def kill(self) -> None:
        """Kill the container (SIGKILL to every process in it) and wait until it has stopped."""
        container = self._wrapped()
        container.reload()
        if container.status == "paused":
            container.unpause()  # the engine kills no paused container
        if container.status in _ALIVE:
            container.kill()
            container.wait(timeout=_KILL_TIMEOUT_S)

    def start(self, timeout_s: float) -> None:
        """Start the same container again (same port and file system); wait until it answers."""
        if self.running():
            return
        self._wrapped().start()
        self._wait_answering(time.monotonic() + timeout_s)

    def running(self) -> bool:
        """Whether the container runs (a paused container runs)."""
        if self._container is None or self._container._container is None:
            return False
        container = self._wrapped()
        container.reload()
        return container.status in _ALIVE

    def _wrapped(self) -> Container:
        if self._container is None:
            raise RuntimeError("launch() first")
        return self._container.get_wrapped_container()

    def _keep_log(self, container: Container | None = None) -> str:
        """Write the container's log (every start of it) to the run directory; return it."""
        logs: bytes = (container or self._wrapped()).logs()
        text = logs.decode(errors="replace")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_text(text)
        return text


def ensure_image(client: docker.DockerClient, service: str, name: str, say: Say) -> None:
    """Pull ``service``'s image ``name`` unless it is on this machine; the error says how to
    build it here."""
    try:
        client.images.get(name)
    except ImageNotFound:
        pass
    else:
        return
    say(f"pulling {name}")
    try:
        client.images.pull(name)
    except DockerException as exc:
        raise StackStartError(
            service,
            f"image {name} is not on this machine and cannot be pulled: {exc}",
            "build it here under the same name with `meltproof images build`,"
            " or make its registry reachable",
        ) from exc


def _tail(log: str, lines: int = 15) -> str:
    """The last ``lines`` lines of ``log``, indented for error messages."""
    tail = deque(log.splitlines(), maxlen=lines)
    return "\n".join(f"    {line}" for line in tail) or "    (empty log)"
