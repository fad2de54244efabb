"""Find the Toxiproxy server binary, or build it once with Go and keep it in the cache.

The order: ``MELTPROOF_TOXIPROXY_SERVER`` (or the stack config), ``toxiproxy-server`` on PATH,
the cached build, and last a ``go install`` of the pinned version into the cache. Concurrent
starts share one build through a file lock; a build lands in the cache only when complete.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import StackStartError


SERVICE = "toxiproxy"
VERSION = "v2.12.0"
MODULE = "github.com/Shopify/toxiproxy/v2/cmd/server"
_BUILD_TIMEOUT_S = 900


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
    on_path = shutil.which("toxiproxy-server")
    if on_path:
        return ToxiproxyBinary(Path(on_path), f"toxiproxy-server on PATH ({on_path})", "unknown")
    build_dir = cache_dir / f"toxiproxy-{VERSION}"
    cached = build_dir / "bin" / "server"
    source = f"built with go install into {build_dir}"
    if cached.is_file():
        return ToxiproxyBinary(cached, source, VERSION)
    build_dir.mkdir(parents=True, exist_ok=True)
    with (build_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another start may be building right now
        if not cached.is_file():
            if on_build is not None:
                on_build(f"building Toxiproxy {VERSION} with go install (once; cached after)")
            _go_install(go or shutil.which("go"), cached)
    return ToxiproxyBinary(cached, source, VERSION)


def _go_install(go: str | None, target: Path) -> None:
    """``go install`` the pinned server into a staging GOBIN, then move it into place."""
    if go is None or not Path(go).is_file():
        raise StackStartError(
            SERVICE,
            "toxiproxy-server is not on PATH and Go is not installed to build it",
            "install Go 1.22 or later and retry, or put toxiproxy-server on PATH,"
            " or set TOXIPROXY_URL to a running Toxiproxy",
        )
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent.parent))
    env = {**os.environ, "GOBIN": str(staging), "CGO_ENABLED": "0"}
    try:
        result = subprocess.run(  # noqa: S603 - a pinned module version
            [go, "install", f"{MODULE}@{VERSION}"],
            env=env, capture_output=True, text=True, check=False, timeout=_BUILD_TIMEOUT_S,
        )  # fmt: skip
        if result.returncode != 0:
            tail = (result.stdout + result.stderr).strip().splitlines()[-10:]
            raise StackStartError(
                SERVICE,
                "go install failed:\n" + "\n".join(f"    {line}" for line in tail),
                "fix the Go toolchain or network access to the Go module proxy, or put"
                " toxiproxy-server on PATH",
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        (staging / "server").rename(target)
    except subprocess.TimeoutExpired as exc:
        raise StackStartError(
            SERVICE,
            f"go install did not finish within {_BUILD_TIMEOUT_S} s",
            "retry; a first build downloads modules and can be slow on a cold cache",
        ) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
