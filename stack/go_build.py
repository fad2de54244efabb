"""Build a pinned Go program inside its own module, once, and keep it in the meltproof cache.

``go install pkg@version`` refuses a module whose ``go.mod`` has ``replace`` directives
(Jaeger's has one), so such a program is built as its own main module instead: ``go mod
download`` fetches the pinned module (checked against the Go checksum database), and ``go
build`` runs in its directory, where its ``go.mod`` (replacements included) and ``go.sum``
apply. The cache layout, the lock shared by concurrent callers and the staging that keeps a
failed build from looking cached are those of ``go_install``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import StackStartError
from .go_install import GoProgram, built_once


BUILD_TIMEOUT_S = 1800
"""A cold build of a large program (Jaeger: about 5.5 minutes on two cores) fits well."""


def go_build_cached(
    program: GoProgram,
    module: str,
    cache_dir: Path,
    *,
    go: str | None = None,
    ldflags: Sequence[str] = (),
    on_build: Callable[[str], None] | None = None,
) -> Path:
    """The cached binary of ``program`` (a main package of ``module``), built first if it is
    not there yet; ``ldflags`` go to the linker (``-X`` version stamps)."""
    return built_once(
        program,
        cache_dir,
        lambda target: _build(program, module, go or shutil.which("go"), target, ldflags),
        how="go build (once, several minutes; cached after)",
        on_build=on_build,
    )


def _build(
    program: GoProgram, module: str, go: str | None, target: Path, ldflags: Sequence[str]
) -> None:
    """``go mod download``, then ``go build`` of the package into a staging directory, then
    the binary moved into place."""
    if go is None or not Path(go).is_file():
        raise StackStartError(
            program.service,
            f"{program.command} is not built yet and Go is not installed to build it",
            f"install Go 1.22 or later and retry{program.instead}",
        )
    if not program.package.startswith(module + "/"):
        raise ValueError(f"{program.package} is not a package of module {module}")
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent.parent))
    env = {**os.environ, "CGO_ENABLED": "0"}
    try:
        source = _module_dir(program, module, go, env)
        relative = "./" + program.package.removeprefix(module + "/")
        flags = ["-ldflags", " ".join(ldflags)] if ldflags else []
        binary = staging / program.installed_name
        _run(program, [go, "build", "-trimpath", *flags, "-o", str(binary), relative], env, source)
        target.parent.mkdir(parents=True, exist_ok=True)
        binary.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _module_dir(program: GoProgram, module: str, go: str, env: dict[str, str]) -> Path:
    """Where ``go mod download`` put the pinned module (in the module cache, read-only)."""
    output = _run(program, [go, "mod", "download", "-json", f"{module}@{program.version}"], env)
    try:
        return Path(json.loads(output)["Dir"])
    except (ValueError, KeyError) as exc:
        raise StackStartError(
            program.service,
            f"go mod download gave no module directory: {output.strip()[:500]}",
            "fix the Go toolchain or network access to the Go module proxy",
        ) from exc


def _run(program: GoProgram, argv: list[str], env: dict[str, str], cwd: Path | None = None) -> str:
    """Run one Go command; its stdout, or a ``StackStartError`` with its last lines."""
    try:
        result = subprocess.run(  # noqa: S603 - Go with a pinned module version
            argv, env=env, cwd=cwd, capture_output=True, text=True, check=False,
            timeout=BUILD_TIMEOUT_S,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise StackStartError(
            program.service,
            f"{' '.join(argv[1:3])} did not finish within {BUILD_TIMEOUT_S} s",
            "retry; a first build downloads modules and can be slow on a cold cache",
        ) from exc
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-10:]
        raise StackStartError(
            program.service,
            f"{' '.join(argv[1:3])} failed:\n" + "\n".join(f"    {line}" for line in tail),
            f"fix the Go toolchain or network access to the Go module proxy{program.instead}",
        )
    return result.stdout
