"""Build a pinned Go program once with ``go install`` and keep it in the meltproof cache.

The binary lands in ``CACHE/NAME-VERSION/bin/``. Concurrent callers share one build through a
file lock on that directory; a build is staged elsewhere and moved into place only when
complete, so a failed or interrupted build leaves nothing that looks cached.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import StackStartError


_BUILD_TIMEOUT_S = 900
_MAJOR_VERSION = re.compile(r"v(?:[2-9]|[1-9][0-9]+)")  # as Go names binaries: v2 and up


@dataclass(frozen=True)
class GoProgram:
    """A Go main package at a pinned version, and how errors about it are worded."""

    service: str
    """Who needs it, as errors name it: ``toxiproxy``."""
    title: str
    """How progress names it: ``Toxiproxy``."""
    package: str
    """The main package: ``github.com/Shopify/toxiproxy/v2/cmd/server``."""
    version: str
    """A module version (``v2.12.0``), never ``latest``: the cache is keyed by it."""
    command: str
    """The binary's usual name on PATH, for the fix: ``toxiproxy-server``."""
    instead: str = ""
    """Another way out when Go is missing: ``, or set TOXIPROXY_URL to a running Toxiproxy``."""

    @property
    def installed_name(self) -> str:
        """The file ``go install`` writes: the last path element, skipping a ``/vN`` (N >= 2)."""
        parts = self.package.split("/")
        if len(parts) > 1 and _MAJOR_VERSION.fullmatch(parts[-1]):
            return parts[-2]
        return parts[-1]

    def cached_path(self, cache_dir: Path) -> Path:
        """Where the build lives in ``cache_dir``."""
        return cache_dir / f"{self.service}-{self.version}" / "bin" / self.installed_name


def go_install_cached(
    program: GoProgram,
    cache_dir: Path,
    *,
    go: str | None = None,
    on_build: Callable[[str], None] | None = None,
) -> Path:
    """The cached binary of ``program``, built first if it is not there yet.

    ``go`` overrides the Go binary (default: ``go`` on PATH); ``on_build`` is told before a
    build starts, so a caller can show progress for the one slow step.
    """
    return built_once(
        program,
        cache_dir,
        lambda target: _go_install(program, go or shutil.which("go"), target),
        how="go install (once; cached after)",
        on_build=on_build,
    )


def built_once(
    program: GoProgram,
    cache_dir: Path,
    build: Callable[[Path], None],
    *,
    how: str,
    on_build: Callable[[str], None] | None,
) -> Path:
    """``program``'s cached binary; else ``build(target)`` makes it, once for every concurrent
    caller (a file lock), after ``on_build`` is told ``how``."""
    cached = program.cached_path(cache_dir)
    if cached.is_file():
        return cached
    build_dir = cached.parent.parent
    build_dir.mkdir(parents=True, exist_ok=True)
    with (build_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building right now
        if not cached.is_file():
            if on_build is not None:
                on_build(f"building {program.title} {program.version} with {how}")
            build(cached)
    return cached


def _go_install(program: GoProgram, go: str | None, target: Path) -> None:
    """``go install`` into a staging GOBIN, then move the binary into place."""
    if go is None or not Path(go).is_file():
        raise StackStartError(
            program.service,
            f"{program.command} is not on PATH and Go is not installed to build it",
            f"install Go 1.22 or later and retry, or put {program.command} on PATH"
            f"{program.instead}",
        )
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent.parent))
    env = {**os.environ, "GOBIN": str(staging), "CGO_ENABLED": "0"}
    try:
        result = subprocess.run(  # noqa: S603 - a pinned module version
            [go, "install", f"{program.package}@{program.version}"],
            env=env, capture_output=True, text=True, check=False, timeout=_BUILD_TIMEOUT_S,
        )  # fmt: skip
        if result.returncode != 0:
            tail = (result.stdout + result.stderr).strip().splitlines()[-10:]
            raise StackStartError(
                program.service,
                "go install failed:\n" + "\n".join(f"    {line}" for line in tail),
                "fix the Go toolchain or network access to the Go module proxy, or put"
                f" {program.command} on PATH",
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        (staging / program.installed_name).rename(target)
    except subprocess.TimeoutExpired as exc:
        raise StackStartError(
            program.service,
            f"go install did not finish within {_BUILD_TIMEOUT_S} s",
            "retry; a first build downloads modules and can be slow on a cold cache",
        ) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
