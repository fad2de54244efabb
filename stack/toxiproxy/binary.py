"""Find the Toxiproxy server binary, or build it once with Go and keep it in the cache.

The order: ``MELTPROOF_TOXIPROXY_SERVER`` (or the stack config), ``toxiproxy-server`` on PATH,
the cached build, and last a ``go install`` of the pinned version into the cache (see
``stack.go_install``: concurrent starts share one build; a build lands only when complete).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import StackStartError
from ..go_install import GoProgram, go_install_cached


SERVICE = "toxiproxy"
VERSION = "v2.12.0"
PROGRAM = GoProgram(
    service=SERVICE,
    title="Toxiproxy",
    package="github.com/Shopify/toxiproxy/v2/cmd/server",
    version=VERSION,
    command="toxiproxy-server",
    instead=", or set TOXIPROXY_URL to a running Toxiproxy",
)


@dataclass(frozen=True)
class ToxiproxyBinary:
    """A server binary, where it came from, and its version."""

    path: Path
    source: str
    version: str


def find_toxiproxy(
    cache_dir: Path,
    *,
    configured: Path | None = None,
    go: str | None = None,
    on_build: Callable[[str], None] | None = None,
) -> ToxiproxyBinary:
    """Locate the server binary, building it if needed (see the module docstring).

    ``go`` overrides the Go binary (default: ``go`` on PATH); ``on_build`` is told before a
    build starts, so a caller can show progress for the one slow step.
    """
    if configured is not None:
        if not configured.is_file():
            raise StackStartError(
                SERVICE,
                f"{configured} (MELTPROOF_TOXIPROXY_SERVER) does not exist",
                "point MELTPROOF_TOXIPROXY_SERVER at a toxiproxy-server binary, or unset it",
            )
        return ToxiproxyBinary(configured, f"configured binary {configured}", "unknown")
    on_path = shutil.which(PROGRAM.command)
    if on_path:
        return ToxiproxyBinary(Path(on_path), f"toxiproxy-server on PATH ({on_path})", "unknown")
    cached = go_install_cached(PROGRAM, cache_dir, go=go, on_build=on_build)
    source = f"built with go install into {cached.parent.parent}"
    return ToxiproxyBinary(cached, source, VERSION)
