"""Whether the container backend can start here without pulling: an engine and its images."""

from __future__ import annotations

from contextlib import closing

from docker.errors import ImageNotFound

from ..errors import StackStartError
from .engine import docker_client
from .images import IMAGES


def unavailable_reason() -> str | None:
    """Why the container backend cannot start from what this machine has; None if it can."""
    try:
        client = docker_client()
    except StackStartError as exc:
        return exc.cause
    with closing(client):
        missing = []
        for name in IMAGES.values():
            try:
                client.images.get(name)
            except ImageNotFound:
                missing.append(name)
    if missing:
        return (
            f"images not on this machine: {', '.join(missing)} (docker pull them, or build them"
            " here with `meltproof images build`)"
        )
    return None
