"""PostgreSQL+pgvector, Redis and Toxiproxy in containers: the container backend's servers.

Each answers where its embedded twin would, with the same URL, settings and versions:

- PostgreSQL: the test-bed settings of ``stack.postgres`` (no fsync, 1 GB of shared buffers),
  trust authentication for ``postgres``, the ``meltproof`` database with ``vector`` enabled;
  its container port published on a loopback port.
- Redis: no persistence (a restarted container comes back empty, as a restarted process
  does); its container port published on a loopback port.
- Toxiproxy: on the host's network, its API on a loopback port, so that its proxies listen
  on loopback ports of this machine and reach the provider (a process) and the other two
  containers (through their published ports) at the addresses the embedded stack uses.

``ContainerBackend`` checks the engine, removes what killed harnesses left behind, makes sure
each image is here before any container starts, and gives the stack the id that labels its
containers (named ``meltproof-<id>-<service>``).
"""

from __future__ import annotations

import uuid
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import redis

from ..ports import LOOPBACK
from ..postgres import DATABASE, TEST_BED_SETTINGS, accepts_connections, prepare_database
from ..redis_server import answers_ping
from ..toxiproxy import ToxiproxyClient
from ..toxiproxy.server import api_answers
from .cleanup import remove_orphaned_containers
from .engine import docker_client
from .images import IMAGES, VERSION_LABEL, ImageRecord
from .server import ContainerServer, ContainerSpec, Say, ensure_image


if TYPE_CHECKING:
    from docker.models.images import Image


class PostgresContainer(ContainerServer):
    """PostgreSQL with pgvector (``pgvector/pgvector``), the meltproof database ready."""

    def __init__(self, *, port: int, stack_id: str, log_dir: Path) -> None:
        settings = [f"--{key}={value}" for key, value in TEST_BED_SETTINGS.items()]
        spec = ContainerSpec(
            service="postgres",
            image=IMAGES["postgres"],
            command=("postgres", *settings),
            port=port,
            container_port=5432,
            env={"POSTGRES_HOST_AUTH_METHOD": "trust", "POSTGRES_DB": DATABASE},
            options={"shm_size": "512m"},  # parallel queries share memory through /dev/shm
        )
        url = f"postgresql://postgres@{LOOPBACK}:{port}/{DATABASE}"
        super().__init__(spec, url=url, stack_id=stack_id, log_dir=log_dir)
        self._admin_url = f"postgresql://postgres@{LOOPBACK}:{port}/postgres"

    def _answers(self) -> bool:
        return accepts_connections(self._admin_url)

    def _version(self, image: Image) -> str:  # noqa: ARG002 - the server says it
        return prepare_database(self._admin_url, self.url)


class RedisContainer(ContainerServer):
    """Redis (``redis``) without persistence."""

    def __init__(self, *, port: int, stack_id: str, log_dir: Path) -> None:
        spec = ContainerSpec(
            service="redis",
            image=IMAGES["redis"],
            command=("redis-server", "--save", "", "--appendonly", "no", "--protected-mode", "no"),
            port=port,
            container_port=6379,
        )
        url = f"redis://{LOOPBACK}:{port}/0"
        super().__init__(spec, url=url, stack_id=stack_id, log_dir=log_dir)

    def _answers(self) -> bool:
        return answers_ping(self.url)

    def _version(self, image: Image) -> str:  # noqa: ARG002 - the server says it
        with redis.Redis.from_url(self.url, socket_timeout=2) as client:
            info = client.info("server")
        if "valkey_version" in info:
            return f"Valkey {info['valkey_version']}"
        return f"Redis {info.get('redis_version', 'unknown')}"


class ToxiproxyContainer(ContainerServer):
    """Toxiproxy (``ghcr.io/shopify/toxiproxy``) on the host's network, API on loopback."""

    def __init__(self, *, port: int, stack_id: str, log_dir: Path) -> None:
        spec = ContainerSpec(
            service="toxiproxy",
            image=IMAGES["toxiproxy"],
            command=("-host", LOOPBACK, "-port", str(port)),
            port=port,
            container_port=None,
        )
        url = f"http://{LOOPBACK}:{port}"
        super().__init__(spec, url=url, stack_id=stack_id, log_dir=log_dir)
        self.client = ToxiproxyClient(url)

    def _answers(self) -> bool:
        return api_answers(self.client)

    def _version(self, image: Image) -> str:
        """The image's version label where it has one (a build's own version string may be a
        placeholder), else what the API says; written as the embedded backend does
        (``v2.12.0``)."""
        version = (image.labels or {}).get(VERSION_LABEL) or self.client.version()
        return f"v{version}" if version[:1].isdigit() else version


class ContainerBackend:
    """The container servers of one stack: the engine checked, leftovers removed, each image
    present (pulled if missing) before any container starts, each container labelled with the
    stack's id."""

    def __init__(self, log_dir: Path, say: Say) -> None:
        self.stack_id = uuid.uuid4().hex[:12]
        self._log_dir = log_dir
        self._say = say
        self._servers: list[ContainerServer] = []
        with closing(docker_client()) as client:
            removed = remove_orphaned_containers(client)
        if removed:
            say(f"removed containers of a harness that was killed: {', '.join(removed)}")

    def postgres(self, port: int) -> PostgresContainer:
        """PostgreSQL's container, on loopback port ``port``."""
        self._ensure_image("postgres")
        server = PostgresContainer(port=port, stack_id=self.stack_id, log_dir=self._log_dir)
        self._servers.append(server)
        return server

    def redis(self, port: int) -> RedisContainer:
        """Redis's container, on loopback port ``port``."""
        self._ensure_image("redis")
        server = RedisContainer(port=port, stack_id=self.stack_id, log_dir=self._log_dir)
        self._servers.append(server)
        return server

    def toxiproxy(self, port: int) -> ToxiproxyContainer:
        """Toxiproxy's container, its API on loopback port ``port``."""
        self._ensure_image("toxiproxy")
        server = ToxiproxyContainer(port=port, stack_id=self.stack_id, log_dir=self._log_dir)
        self._servers.append(server)
        return server

    def images(self) -> dict[str, ImageRecord]:
        """Service name -> the image its container ran (those launched)."""
        return {server.name: server.image for server in self._servers if server.image}

    def _ensure_image(self, service: str) -> None:
        with closing(docker_client()) as client:
            ensure_image(client, service, IMAGES[service], self._say)
