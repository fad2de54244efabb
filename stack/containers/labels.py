"""The labels on every container meltproof starts, and which of them a dead harness left behind.

Each container carries the id of its stack, its service, and the pid and host name of the
harness that started it. A container is an orphan when its harness ran on this host and runs
no more; pids of other hosts (a Docker engine shared over ``DOCKER_HOST``) say nothing here.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping


STACK = "meltproof.stack"
SERVICE = "meltproof.service"
HARNESS_PID = "meltproof.harness-pid"
HOST = "meltproof.host"


def stack_labels(stack_id: str, service: str) -> dict[str, str]:
    """The labels of ``service``'s container in stack ``stack_id``, started by this process."""
    return {
        STACK: stack_id,
        SERVICE: service,
        HARNESS_PID: str(os.getpid()),
        HOST: socket.gethostname(),
    }


def is_orphan(labels: Mapping[str, str], *, host: str, alive: Callable[[int], bool]) -> bool:
    """Whether a container with ``labels`` was started by a harness on ``host`` that is gone."""
    if STACK not in labels or labels.get(HOST) != host:
        return False
    try:
        pid = int(labels[HARNESS_PID])
    except (KeyError, ValueError):
        return False
    return not alive(pid)
