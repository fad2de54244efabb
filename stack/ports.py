"""Loopback ports: pick an ephemeral one, or check that a chosen one is free."""

from __future__ import annotations

import errno
import socket

from .errors import StackStartError


LOOPBACK = "127.0.0.1"


def ephemeral_port() -> int:
    """Return a port that the OS considers free right now on the loopback address."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def claim_port(service: str, port: int | None, option: str) -> int:
    """Return ``port`` if it can be bound on loopback, or an ephemeral port when it is None.

    ``option`` names the setting that chose the port, so the error can say how to fix it.
    """
    if port is None:
        return ephemeral_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StackStartError(
                    service,
                    f"port {LOOPBACK}:{port} is already in use",
                    f"stop whatever listens there, or pick another port with {option}"
                    " (leave it unset for an ephemeral port)",
                ) from exc
            raise StackStartError(
                service,
                f"cannot bind {LOOPBACK}:{port}: {exc.strerror}",
                f"pick another port with {option}",
            ) from exc
    return port
