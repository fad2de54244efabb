"""One child process of the stack: spawned with its log in the run directory, stopped for sure.

Children run in their own session, so a Ctrl-C in the terminal reaches only the harness, which
then stops them in order. On Linux each child also gets a parent-death signal: if the harness
itself is killed (SIGKILL, a crash), the kernel stops its children too.

Process faults (``faults``) drive a child through ``ProcessControl``: freeze (SIGSTOP), thaw
(SIGCONT), kill (SIGKILL) and start again on the same port with the same data.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import pwd
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .errors import PortTakenError, StackError, StackStartError


_PR_SET_PDEATHSIG = 1
_POLL_INTERVAL_S = 0.05


class ProcessControlError(StackError):
    """A stack process cannot be controlled: the server is not ours to signal."""


class ProcessControl(Protocol):
    """A server process of the stack that faults may freeze, kill and start again."""

    name: str

    def freeze(self) -> None:
        """Suspend the process (SIGSTOP): it keeps its sockets but answers nothing."""

    def thaw(self) -> None:
        """Resume a frozen process (SIGCONT); harmless on a running one."""

    def kill(self) -> None:
        """Kill the process (SIGKILL) and wait until it is gone."""

    def start(self, timeout_s: float) -> None:
        """Start it again after a kill, on the same port and data; wait until it answers.

        A no-op while it runs; raises ``StackStartError`` if it is not ready within
        ``timeout_s``.
        """

    def running(self) -> bool:
        """Whether the process is alive (a frozen process is alive)."""


@dataclass(frozen=True)
class RunAs:
    """An unprivileged account to run a child as (the harness must be root to use one)."""

    user: str
    uid: int
    gid: int

    @classmethod
    def lookup(cls, user: str) -> RunAs:
        """Find ``user`` in the password database."""
        entry = pwd.getpwnam(user)
        return cls(user=user, uid=entry.pw_uid, gid=entry.pw_gid)


def die_with_parent(parent: int, sig: signal.Signals = signal.SIGKILL) -> None:
    """In a child: ask Linux to send ``sig`` when ``parent`` dies (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(sig))
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _death_signal_setter(sig: signal.Signals) -> Callable[[], None] | None:
    """Return a pre-exec hook that asks Linux to send ``sig`` to the child when we die."""
    if not sys.platform.startswith("linux"):
        return None
    parent = os.getpid()
    return functools.partial(die_with_parent, parent, sig)


_spawner: ThreadPoolExecutor | None = None
_spawner_lock = threading.Lock()


def _spawn_thread() -> ThreadPoolExecutor:
    """One thread that lives as long as the harness, to spawn children from other threads."""
    global _spawner  # noqa: PLW0603 - created once, on first use
    with _spawner_lock:
        if _spawner is None:
            _spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="meltproof-spawn")
        return _spawner


class ManagedProcess:
    """A child process of one service, from spawn to a stop that leaves nothing behind."""

    def __init__(
        self,
        service: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        run_as: RunAs | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
        death_signal: signal.Signals = signal.SIGKILL,
        stop_timeout_s: float = 10.0,
    ) -> None:
        self.service = service
        self.argv = tuple(argv)
        self.log_path = log_path
        self._env = dict(env) if env is not None else None
        self._run_as = run_as
        self._stop_signal = stop_signal
        self._death_signal = death_signal
        self._stop_timeout_s = stop_timeout_s
        self._popen: subprocess.Popen[bytes] | None = None
        self._log_offset = 0
        """Where this spawn's output starts in the (appended) log."""

    @property
    def pid(self) -> int | None:
        """The child's pid once spawned."""
        return self._popen.pid if self._popen else None

    def spawn(self) -> None:
        """Start the child; its stdout and stderr go to ``log_path``.

        The parent-death signal fires when the spawning *thread* ends, so a child spawned from
        a short-lived thread would die with that thread: from any thread but the main one, the
        spawn is handed to a single long-lived spawner thread.
        """
        if threading.current_thread() is threading.main_thread():
            self._spawn_here()
        else:
            _spawn_thread().submit(self._spawn_here).result()

    def _spawn_here(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        run_as = self._run_as
        with self.log_path.open("ab") as log:
            self._log_offset = log.tell()
            try:
                self._popen = subprocess.Popen(  # noqa: S603 - argv is built by the stack
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self._env,
                    start_new_session=True,
                    user=run_as.uid if run_as else None,
                    group=run_as.gid if run_as else None,
                    extra_groups=[] if run_as else None,
                    preexec_fn=_death_signal_setter(self._death_signal),  # noqa: PLW1509
                )
            except OSError as exc:
                raise StackStartError(
                    self.service,
                    f"cannot run {self.argv[0]}: {exc.strerror}",
                    "check that the binary exists and is executable",
                ) from exc

    def exit_code(self) -> int | None:
        """The child's exit code, or None while it runs (or before it was spawned)."""
        return self._popen.poll() if self._popen else None

    def wait_ready(self, probe: Callable[[], bool], deadline: float) -> None:
        """Poll ``probe`` until it returns True; fail clearly if the child dies or time runs out."""
        while True:
            code = self.exit_code()
            if self._port_taken():
                raise PortTakenError(
                    self.service,
                    f"its port was taken by another process; last lines of its log:\n"
                    f"{self.log_tail()}",
                    "start again: ephemeral ports are chosen afresh",
                )
            if code is not None:
                raise StackStartError(
                    self.service,
                    f"exited with code {code} during start; last lines of its log:\n"
                    f"{self.log_tail()}",
                    f"read the whole log at {self.log_path}",
                )
            if probe():
                return
            if time.monotonic() > deadline:
                raise StackStartError(
                    self.service,
                    "not ready before the start timeout; last lines of its log:\n"
                    f"{self.log_tail()}",
                    f"read the log at {self.log_path}; on a loaded machine raise the start timeout",
                )
            time.sleep(_POLL_INTERVAL_S)

    def send_signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the child if it still runs."""
        if self._popen and self._popen.poll() is None:
            self._popen.send_signal(sig)

    def running(self) -> bool:
        """Whether the child is alive (spawned, not exited; a stopped child is alive)."""
        return self._popen is not None and self._popen.poll() is None

    def freeze(self) -> None:
        """Suspend the child (SIGSTOP)."""
        self.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Resume the child (SIGCONT)."""
        self.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """Kill the child at once (SIGKILL) and reap it."""
        popen = self._popen
        if popen is not None and popen.poll() is None:
            popen.kill()
            popen.wait()

    def stop(self) -> None:
        """Ask the child to stop; after the stop timeout kill its whole process group; reap it."""
        popen = self._popen
        if popen is None or popen.poll() is not None:
            return
        popen.send_signal(signal.SIGCONT)  # a frozen child cannot act on the stop signal
        popen.send_signal(self._stop_signal)
        try:
            popen.wait(self._stop_timeout_s)
        except subprocess.TimeoutExpired:
            # The child leads its own process group (a new session): kill all of it, so that
            # what it started (a guarded gateway's tree, a server's workers) goes with it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGKILL)
            popen.kill()  # in case it left its group
            popen.wait()

    def _port_taken(self) -> bool:
        """Whether the child's log (since this spawn) says its listening port was in use."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                text = log.read().decode(errors="replace")
        except OSError:
            return False
        return "address already in use" in text.lower()

    def log_tail(self, lines: int = 15) -> str:
        """The last ``lines`` lines of the child's log, indented for error messages."""
        try:
            with self.log_path.open(errors="replace") as log:
                tail = deque(log, maxlen=lines)
        except OSError:
            return "    (no log)"
        return "".join(f"    {line}" for line in tail).rstrip() or "    (empty log)"


def proc_stats() -> Iterator[tuple[int, list[str]]]:
    """Every process's pid and the fields of its ``/proc/PID/stat`` after the command name
    (state, ppid, pgrp, ...); nothing where there is no ``/proc``."""
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # exited meanwhile
        yield int(entry.parent.name), fields


def child_pids(parent: int) -> list[int]:
    """The pids of ``parent``'s children, from ``/proc`` (empty where there is none)."""
    children = []
    for pid, fields in proc_stats():
        if int(fields[1]) == parent:
            children.append(pid)
    return children


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return False  # gone, or no /proc to tell
    return fields[0] != "Z"


def signal_all(pids: Sequence[int], sig: signal.Signals) -> None:
    """Send ``sig`` to each of ``pids`` that still exists."""
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            continue


def kill_survivors(pids: Sequence[int], *, grace_s: float) -> None:
    """Wait up to ``grace_s`` for ``pids`` to exit, then SIGKILL those left and wait for them."""
    deadline = time.monotonic() + grace_s
    while (alive := [pid for pid in pids if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.02)
    signal_all(alive, signal.SIGKILL)
    deadline = time.monotonic() + grace_s
    while any(_alive(pid) for pid in alive) and time.monotonic() < deadline:
        time.sleep(0.02)
