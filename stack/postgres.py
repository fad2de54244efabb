"""PostgreSQL with pgvector: a throwaway cluster on a loopback port, or an existing server.

The cluster is tuned for a test bed, not for durability: no fsync, no synchronous commit, no
full-page writes, no Unix socket; 1 GB of shared buffers, so that a 100k x 1536 HNSW index
stays in PostgreSQL's own cache (the memory is taken only as pages are read). Its data
directory is a fresh temporary directory removed at stop, or at a later start if the harness
was killed; its log goes to the run directory.

For process faults the server can be killed and started again on the same data directory
(``initdb`` runs once, at launch): it then goes through crash recovery, as after a real crash.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from .errors import StackStartError
from .ports import LOOPBACK
from .postgres_install import SERVICE, PostgresInstall
from .process import ManagedProcess, child_pids, kill_survivors, signal_all
from .service import ServiceInfo
from .urls import host_and_port


DATABASE = "meltproof"
_DATA_ROOT_PREFIX = "meltproof-pgdata-"
_OWNER_FILE = "harness.pid"
_ORPHAN_GRACE_S = 5.0
"""How long a killed postmaster's children get to exit by themselves before they are killed."""
TEST_BED_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "shared_buffers": "1GB",
}
"""The server settings of a test bed, wherever the server runs (see the module docstring)."""
_SERVER_SETTINGS = {
    "listen_addresses": LOOPBACK,
    "unix_socket_directories": "",
    **TEST_BED_SETTINGS,
}


def _remove_orphaned_data_roots() -> None:
    """Delete data directories left by a harness that was killed before it could clean up."""
    for root in Path(tempfile.gettempdir()).glob(_DATA_ROOT_PREFIX + "*"):
        try:
            owner = int((root / _OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not ours, or being created right now
        if not _process_exists(owner):
            shutil.rmtree(root, ignore_errors=True)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def accepts_connections(url: str) -> bool:
    """True once the server accepts a connection."""
    try:
        with psycopg.connect(url, connect_timeout=1):
            return True
    except psycopg.OperationalError:
        return False


def prepare_database(admin_url: str, database_url: str) -> str:
    """Create the meltproof database if missing and enable pgvector; return the versions."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
        if exists.fetchone() is None:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return _enable_vector(database_url)


def _enable_vector(database_url: str) -> str:
    """``CREATE EXTENSION vector`` in the target database; return server and pgvector versions."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        server = conn.execute("SHOW server_version").fetchone() or ("unknown",)
        vector = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
        ).fetchone() or ("unknown",)
    return f"PostgreSQL {server[0]}, pgvector {vector[0]}"


class PostgresServer:
    """A cluster of our own: initdb into a temporary directory, then the server."""

    name = SERVICE

    def __init__(self, install: PostgresInstall, *, port: int, log_dir: Path) -> None:
        self._install = install
        self._port = port
        self._log_dir = log_dir
        self._data_root: Path | None = None
        self._process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        """The DSN of the meltproof database."""
        return f"postgresql://postgres@{LOOPBACK}:{self._port}/{DATABASE}"

    def launch(self) -> None:
        """Initialise a cluster and start the server on it."""
        self._process = self._server_process(self._init_cluster())
        self._process.spawn()

    def _server_process(self, data_dir: Path) -> ManagedProcess:
        """The server on ``data_dir``; it can be spawned again after a kill."""
        settings = [f"--{key}={value}" for key, value in _SERVER_SETTINGS.items()]
        return ManagedProcess(
            self.name,
            [str(self._install.postgres), "-D", str(data_dir), "-p", str(self._port), *settings],
            log_path=self._log_dir / "postgres.log",
            run_as=self._install.run_as,
            stop_signal=signal.SIGINT,  # fast shutdown
            death_signal=signal.SIGQUIT,  # immediate shutdown, children included
        )

    def _init_cluster(self) -> Path:
        """Run initdb as the account that will own the cluster."""
        run_as = self._install.run_as
        _remove_orphaned_data_roots()
        self._data_root = Path(tempfile.mkdtemp(prefix=_DATA_ROOT_PREFIX))
        (self._data_root / _OWNER_FILE).write_text(str(os.getpid()))
        if run_as is not None:
            os.chown(self._data_root, run_as.uid, run_as.gid)
        data_dir = self._data_root / "data"
        log_path = self._log_dir / "initdb.log"
        with log_path.open("wb") as log:
            result = subprocess.run(  # noqa: S603 - argv is ours
                [str(self._install.initdb), "-D", str(data_dir), "-U", "postgres",
                 "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, check=False,
                user=run_as.uid if run_as else None, group=run_as.gid if run_as else None,
                extra_groups=[] if run_as else None,
            )  # fmt: skip
        if result.returncode != 0:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-10:]
            raise StackStartError(
                self.name,
                "initdb failed:\n" + "\n".join(f"    {line}" for line in tail),
                f"read {log_path}",
            )
        return data_dir

    def wait_ready(self, deadline: float) -> ServiceInfo:
        """Wait for connections, then create the database and the vector extension."""
        if self._process is None:
            raise RuntimeError("launch() first")
        admin_url = f"postgresql://postgres@{LOOPBACK}:{self._port}/postgres"
        self._process.wait_ready(lambda: accepts_connections(admin_url), deadline)
        version = prepare_database(admin_url, self.url)
        return ServiceInfo(self.name, self.url, self._install.source, version, self._process.pid)

    def stop(self) -> None:
        """Stop the server and delete its data directory."""
        if self._process is not None:
            if self._process.running():
                self.thaw()  # frozen backends could not take part in the shutdown
            self._process.stop()
        if self._data_root is not None:
            shutil.rmtree(self._data_root, ignore_errors=True)

    def freeze(self) -> None:
        """Suspend the whole server (SIGSTOP): the postmaster first, so that it forks no new
        child, then every backend and helper; the server keeps its sockets but answers nothing."""
        process = self._launched()
        if not process.running() or process.pid is None:
            return
        process.freeze()
        signal_all(child_pids(process.pid), signal.SIGSTOP)

    def thaw(self) -> None:
        """Resume the whole server (SIGCONT): its children, then the postmaster."""
        process = self._launched()
        if not process.running() or process.pid is None:
            return
        signal_all(child_pids(process.pid), signal.SIGCONT)
        process.thaw()

    def kill(self) -> None:
        """Kill the postmaster (SIGKILL), as in a crash, and make sure its children are gone.

        The postmaster is suspended first so that it forks no child while they are listed.
        Backends and helpers exit by themselves once they notice the postmaster is gone (about
        0.1 s, even in the middle of ``pg_sleep``); one that does not notice within
        ``_ORPHAN_GRACE_S`` (a CPU-bound query) is killed, since a survivor would keep the
        shared memory and stop the restart. Commits made with ``synchronous_commit`` off (the
        test-bed setting) in the last fraction of a second may be lost, as on a real server.
        """
        process = self._launched()
        if not process.running() or process.pid is None:
            return
        process.freeze()
        children = child_pids(process.pid)
        process.kill()
        signal_all(children, signal.SIGCONT)  # a frozen child could not notice
        kill_survivors(children, grace_s=_ORPHAN_GRACE_S)

    def start(self, timeout_s: float) -> None:
        """Start the server again on its data directory (crash recovery runs); wait for it."""
        process = self._launched()
        if process.running():
            return
        process.spawn()
        process.wait_ready(lambda: accepts_connections(self.url), time.monotonic() + timeout_s)

    def running(self) -> bool:
        """Whether the postmaster is alive."""
        return self._process is not None and self._process.running()

    def _launched(self) -> ManagedProcess:
        if self._process is None:
            raise RuntimeError("launch() first")
        return self._process


class ExistingPostgres:
    """A server the user already runs, named by ``DATABASE_URL``; we only use it."""

    name = SERVICE

    def __init__(self, url: str) -> None:
        self.url = url
        host_and_port(url, default_port=5432)  # fail early on a URL we cannot proxy

    def launch(self) -> None:
        """Nothing to start."""

    def wait_ready(self, deadline: float) -> ServiceInfo:  # noqa: ARG002 - it runs already
        """Check that the server answers and has pgvector."""
        try:
            version = _enable_vector(self.url)
        except psycopg.Error as exc:
            raise StackStartError(
                self.name,
                f"the server at DATABASE_URL cannot be used: {exc}".strip(),
                "check DATABASE_URL and that the server has the pgvector extension,"
                " or unset DATABASE_URL to start a server of our own",
            ) from exc
        return ServiceInfo(self.name, self.url, "existing server (DATABASE_URL)", version)

    def stop(self) -> None:
        """Nothing to stop: the server is not ours."""
