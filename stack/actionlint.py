"""Find actionlint, the checker of the GitHub Actions workflows, or build it once with Go.

The order: a configured binary, ``actionlint`` on PATH, the cached build, and last a
``go install`` of the pinned version into the meltproof cache (see ``stack.go_install``:
concurrent callers share one build; a build lands only when complete). The test suite runs it
on ``.github/workflows/`` so a broken workflow fails locally before it fails in CI.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from .errors import StackStartError
from .go_install import GoProgram, go_install_cached


VERSION = "v1.7.12"
PROGRAM = GoProgram(
    service="actionlint",
    title="actionlint",
    package="github.com/rhysd/actionlint/cmd/actionlint",
    version=VERSION,
    command="actionlint",
)


def find_actionlint(
    cache_dir: Path,
    *,
    configured: Path | None = None,
    go: str | None = None,
    on_build: Callable[[str], None] | None = None,
) -> Path:
    """The actionlint binary: ``configured``, else on PATH, else built into ``cache_dir``.

    ``go`` overrides the Go binary (default: ``go`` on PATH); ``on_build`` is told before a
    build starts. Raises ``StackStartError`` naming the fix when ``configured`` does not exist
    or when a build is needed and Go is missing or fails.
    """
    if configured is not None:
        if not configured.is_file():
            raise StackStartError(
                PROGRAM.service,
                f"{configured} does not exist",
                "point it at an actionlint binary, or leave it unset to use PATH or a Go build",
            )
        return configured
    on_path = shutil.which(PROGRAM.command)
    if on_path:
        return Path(on_path)
    return go_install_cached(PROGRAM, cache_dir, go=go, on_build=on_build)
