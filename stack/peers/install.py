"""One-time installs of peers into the meltproof cache: a venv with pip, or a prefix with npm.

An install lives in ``CACHE/NAME-VERSION`` and counts as done once its marker file holds the
exact requirement; anything else there (an interrupted install) is removed and installed again.
Concurrent callers share one install through a file lock. The installers' output goes to
``CACHE/NAME-VERSION.log``; a failed step raises ``StackStartError`` naming the command and the
log. Nothing runs a package's own build or install scripts: pip takes wheels only and npm runs
with ``--ignore-scripts``.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from stack.errors import StackStartError


INSTALL_TIMEOUT_S = 1800.0
MARKER = ".meltproof-installed"
_LOG_TAIL_LINES = 10


def pip_install(
    cache_dir: Path,
    *,
    service: str,
    requirement: str,
    version: str,
    on_progress: Callable[[str], None],
    python: str = sys.executable,
    timeout_s: float = INSTALL_TIMEOUT_S,
) -> Path:
    """The venv ``CACHE/SERVICE-VERSION`` with ``requirement`` in it, created the first time."""
    venv = cache_dir / f"{service}-{version}"
    steps = [
        [python, "-m", "venv", str(venv)],
        [
            str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
            "--no-input", "--only-binary=:all:", requirement,
        ],
    ]  # fmt: skip
    fix = "check that this machine reaches PyPI, then retry (the install is kept once it is done)"
    return _install(
        venv,
        requirement,
        requirement,
        steps,
        service=service,
        fix=fix,
        on_progress=on_progress,
        timeout_s=timeout_s,
    )


def npm_install(
    cache_dir: Path,
    *,
    service: str,
    packages: Sequence[str],
    version: str,
    on_progress: Callable[[str], None],
    npm: str | None = None,
    timeout_s: float = INSTALL_TIMEOUT_S,
) -> Path:
    """The prefix ``CACHE/SERVICE-VERSION`` with ``packages`` (``name@version``, the peer first)
    in its ``node_modules``."""
    prefix = cache_dir / f"{service}-{version}"
    requirement = " ".join(packages)
    if _installed(prefix, requirement):
        return prefix
    npm = npm or shutil.which("npm")
    if npm is None:
        raise StackStartError(
            service,
            "npm is not on PATH, so the peer cannot be installed",
            "install Node.js 20.6 or later with npm (Debian: apt-get install nodejs npm)",
        )
    step = [
        npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--ignore-scripts",
        "--omit=dev", "--save-exact", "--no-update-notifier", *packages,
    ]  # fmt: skip
    fix = "check that this machine reaches the npm registry, then retry"
    return _install(
        prefix,
        requirement,
        packages[0],
        [step],
        service=service,
        fix=fix,
        on_progress=on_progress,
        timeout_s=timeout_s,
    )


def _install(
    target: Path,
    requirement: str,
    title: str,
    steps: Sequence[Sequence[str]],
    *,
    service: str,
    fix: str,
    on_progress: Callable[[str], None],
    timeout_s: float,
) -> Path:
    """``target`` once ``steps`` have installed ``requirement`` (``title`` in progress messages)
    into it, under a lock."""
    if _installed(target, requirement):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f".{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be installing right now
        if _installed(target, requirement):
            return target
        shutil.rmtree(target, ignore_errors=True)
        log = target.parent / f"{target.name}.log"
        on_progress(f"installing {title} into {target} (once; cached after)")
        started = time.monotonic()
        log.write_text("")
        for step in steps:
            _run(step, log, service=service, fix=fix, timeout_s=timeout_s)
        (target / MARKER).write_text(requirement)
        on_progress(f"installed {title} in {time.monotonic() - started:.0f} s")
    return target


def _installed(target: Path, requirement: str) -> bool:
    marker = target / MARKER
    return marker.is_file() and marker.read_text() == requirement


def _run(argv: Sequence[str], log: Path, *, service: str, fix: str, timeout_s: float) -> None:
    """Run one install step with its output appended to ``log``."""
    command = " ".join(argv)
    with log.open("a") as out:
        out.write(f"$ {command}\n")
        out.flush()
        try:
            done = subprocess.run(  # noqa: S603 - pinned packages, our own arguments
                argv, stdout=out, stderr=subprocess.STDOUT, check=False, timeout=timeout_s
            )
        except subprocess.TimeoutExpired:
            raise StackStartError(
                service, f"`{command}` took longer than {timeout_s:g} s (log: {log})", fix
            ) from None
        except OSError as exc:
            raise StackStartError(service, f"cannot run `{command}`: {exc.strerror}", fix) from exc
    if done.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-_LOG_TAIL_LINES:]
        raise StackStartError(
            service,
            f"`{command}` failed with exit code {done.returncode}; the log is {log}:\n"
            + "\n".join(f"    {line}" for line in tail),
            fix,
        )
