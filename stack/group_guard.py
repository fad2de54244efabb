"""``python -m stack.group_guard -- ARGV...``: run a command so that its whole process tree stops.

A gateway started as a command may fork workers or run under a shell; stopping only the
direct child would leave them behind. The stack runs the command under this guard, as the
leader of the guard's own process group (the stack starts it in a new session):

- SIGTERM or SIGINT (the stack's stop, or the parent-death signal when the harness itself is
  killed, even by SIGKILL) is passed to the whole group; members still alive after the grace
  period get SIGKILL.
- When the command exits by itself, what it left in the group is stopped the same way and the
  guard exits with the command's code (``128 + N`` when signal N killed it), so the stack sees
  a crash during start.

The guard blocks SIGTERM, SIGINT and SIGCHLD before it does anything else, keeps them blocked
until it exits, and takes them one at a time with ``sigwaitinfo``; no handler ever interrupts
it. A stop signal that arrives while the command is being started waits until the command
runs, and then stops it; a second one during the stop changes nothing. The command itself
starts with no signal blocked.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

from .process import die_with_parent, proc_stats, signal_all


GRACE_S = 5.0
"""How long the group has to stop after SIGTERM before it is killed."""
_STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})
_WAITED = _STOP_SIGNALS | {signal.SIGCHLD}
_POLL_S = 0.02


def group_members(pgid: int) -> list[int]:
    """The pids of the live members of process group ``pgid``, except this process (from
    ``/proc``; a zombie, dead but not yet reaped, is not counted)."""
    return [
        pid
        for pid, fields in proc_stats()
        if int(fields[2]) == pgid and pid != os.getpid() and fields[0] not in {"Z", "X"}
    ]


def stop_group(pgid: int, *, grace_s: float = GRACE_S) -> None:
    """SIGTERM the whole group, then SIGKILL whatever is left of it after ``grace_s``.

    The group is signalled at once (``killpg``), so a member forked meanwhile is not missed;
    the caller, a member itself, must have SIGTERM blocked (``main`` does).
    """
    for sig in (signal.SIGTERM, signal.SIGCONT):  # a frozen member acts on SIGTERM once resumed
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
    deadline = time.monotonic() + grace_s
    while (members := group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(_POLL_S)
    deadline = time.monotonic() + grace_s
    while members and time.monotonic() < deadline:
        signal_all(members, signal.SIGKILL)  # again each round: a member may have forked
        time.sleep(_POLL_S)
        members = group_members(pgid)


def exit_status(returncode: int) -> int:
    """A ``Popen.returncode`` as a shell reports it: ``128 + N`` for death by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def main(argv: list[str]) -> int:
    """Run ``argv`` (after ``--``), stop its group on SIGTERM or on its exit; its exit code."""
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        sys.stderr.write("usage: python -m stack.group_guard -- COMMAND [ARG...]\n")
        return 2
    signal.pthread_sigmask(signal.SIG_BLOCK, _WAITED)
    die_with_parent(os.getppid(), signal.SIGTERM)
    pgid = os.getpgid(0)
    try:
        child = subprocess.Popen(argv, preexec_fn=_unblock)  # noqa: S603, PLW1509 - the user's gateway command; the guard has one thread
    except OSError as exc:
        sys.stderr.write(f"cannot run {argv[0]}: {exc.strerror}\n")
        return 127
    code = _wait(child)
    stop_group(pgid)
    child.wait()
    return code


def _wait(child: subprocess.Popen[bytes]) -> int:
    """The command's exit status once it exits by itself, or 0 once a stop signal arrives."""
    while True:
        received = signal.sigwaitinfo(_WAITED)
        if received.si_signo in _STOP_SIGNALS:
            return 0
        returncode = child.poll()  # SIGCHLD: it exited, or it was stopped or continued
        if returncode is not None:
            return exit_status(returncode)


def _unblock() -> None:
    """In the command, before it runs: no signal blocked (the mask survives ``exec``)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _WAITED)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
