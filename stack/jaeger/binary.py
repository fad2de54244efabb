"""Find the Jaeger v2 binary, or build it once with Go and keep it in the cache.

Jaeger v2 (an OpenTelemetry Collector distribution with Jaeger's storage and query) is the
traces receiver of the stack: OTLP/HTTP in, an in-memory store, and a query API to read a
trace back. Its Go module is ``github.com/jaegertracing/jaeger`` at v1.x (v1.75.0 is the
release also tagged v2.12.0); ``cmd/jaeger`` is the v2 binary. Its ``go.mod`` has a
``replace`` directive, so ``go install`` refuses it and ``go_build`` builds it in its own
module. The order: ``MELTPROOF_JAEGER`` (or the stack config), then the cached build, then a
build (about 5.5 minutes with cold Go caches on two cores; 1.3 GB of modules, 1.6 GB of build
cache, a 121 MB binary).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import StackStartError
from ..go_build import go_build_cached
from ..go_install import GoProgram


SERVICE = "jaeger"
MODULE = "github.com/jaegertracing/jaeger"
VERSION = "v1.75.0"
PROGRAM = GoProgram(
    service=SERVICE,
    title="Jaeger",
    package=f"{MODULE}/cmd/jaeger",
    version=VERSION,
    command="jaeger",
    instead=", or set MELTPROOF_JAEGER to a Jaeger v2 binary",
)
LDFLAGS = (f"-X {MODULE}/internal/version.latestVersion={VERSION}",)
"""Stamps the version into ``jaeger version``, as Jaeger's release build does."""


@dataclass(frozen=True)
class JaegerBinary:
    """A Jaeger v2 binary, where it came from, and its version."""

    path: Path
    source: str
    version: str


def find_jaeger(
    cache_dir: Path,
    *,
    configured: Path | None = None,
    go: str | None = None,
    on_build: Callable[[str], None] | None = None,
) -> JaegerBinary:
    """Locate the binary, building it if needed (see the module docstring)."""
    if configured is not None:
        if not configured.is_file():
            raise StackStartError(
                SERVICE,
                f"{configured} (MELTPROOF_JAEGER) does not exist",
                "point MELTPROOF_JAEGER at a Jaeger v2 binary, or unset it to build one",
            )
        return JaegerBinary(configured, f"configured binary {configured}", "unknown")
    cached = go_build_cached(PROGRAM, MODULE, cache_dir, go=go, ldflags=LDFLAGS, on_build=on_build)
    return JaegerBinary(cached, f"built with go build into {cached.parent.parent}", VERSION)
