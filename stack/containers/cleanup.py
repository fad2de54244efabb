"""Remove containers by their labels: one stack's, or those whose harness is gone.

Removal is forced (a running or paused container is killed first) and takes the container's
anonymous volumes with it (the official PostgreSQL image keeps its data in one).
"""

from __future__ import annotations

import contextlib
import socket

import docker
from docker.errors import APIError, NotFound
from docker.models.containers import Container

from ..pids import pid_alive
from . import labels


def stack_containers(client: docker.DockerClient, stack_id: str) -> list[Container]:
    """Every container of stack ``stack_id``, running or not."""
    return list(client.containers.list(all=True, filters={"label": f"{labels.STACK}={stack_id}"}))


def remove_stack_containers(client: docker.DockerClient, stack_id: str) -> int:
    """Remove every container of stack ``stack_id``; return how many there were."""
    found = stack_containers(client, stack_id)
    for container in found:
        remove_container(container)
    return len(found)


def remove_orphaned_containers(client: docker.DockerClient) -> list[str]:
    """Remove the containers of harnesses on this host that no longer run (killed before they
    could clean up); return the removed containers' names."""
    host = socket.gethostname()
    orphans = [
        container
        for container in client.containers.list(all=True, filters={"label": labels.STACK})
        if labels.is_orphan(container.labels, host=host, alive=pid_alive)
    ]
    for container in orphans:
        remove_container(container)
    return [str(container.name) for container in orphans]


def remove_container(container: Container) -> None:
    """Remove ``container`` whatever its state; one already gone (or going) is no error."""
    with contextlib.suppress(NotFound):
        try:
            container.remove(force=True, v=True)
        except APIError as exc:
            if "already in progress" not in str(exc):
                raise
