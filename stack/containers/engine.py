"""The Docker engine the container backend talks to: ``DOCKER_HOST``, else the local socket."""

from __future__ import annotations

import socket

import docker
from docker.constants import DEFAULT_UNIX_SOCKET
from docker.errors import DockerException
from docker.utils import kwargs_from_env

from ..errors import StackStartError


ENGINE = "docker"
NO_ENGINE_FIX = (
    "start a Docker engine (dockerd, or Docker Desktop) or point DOCKER_HOST at one,"
    " or use the embedded backend (--backend embedded, MELTPROOF_BACKEND=embedded)"
)


def docker_client() -> docker.DockerClient:
    """A client of an engine that answers, or ``StackStartError`` saying how to get one.

    A local socket is tried first: the Docker client leaks its socket when it cannot connect.
    """
    settings = kwargs_from_env()
    closed = _closed_socket(settings.get("base_url") or DEFAULT_UNIX_SOCKET)
    if closed is not None:
        raise StackStartError(ENGINE, f"no Docker engine answers: {closed}", NO_ENGINE_FIX)
    try:
        return docker.DockerClient(version="auto", **settings)  # asks the engine its version
    except (DockerException, OSError) as exc:  # requests' connection errors are OSErrors
        raise StackStartError(ENGINE, f"no Docker engine answers: {exc}", NO_ENGINE_FIX) from exc


def _closed_socket(base_url: str) -> str | None:
    """Why the engine's Unix socket takes no connection (None: it does, or it is no socket)."""
    scheme, _, path = base_url.partition("://")
    if scheme not in ("unix", "http+unix"):
        return None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(path)
        except OSError as exc:
            return f"{path}: {exc.strerror or exc}"
    return None
