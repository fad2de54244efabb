"""``python -m stack.group_guard -- ARGV...``: run a command so that its whole process tree stops.

A gateway started as a command may fork workers or run under a shell; stopping only the
direct child would leave them behind. The stack runs the command under this guard, as the
leader of the guard's own process group (the stack starts it in a new session):

- SIGTERM (the stack's stop, or the parent-death signal when the harness itself is killed,
  even by SIGKILL) is passed to the whole group; members still alive after the grace period
  get SIGKILL.
- When the command exits by itself, what it left in the group is stopped the same way and the
  guard exits with the command's code, so the stack sees a crash during start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from .process import die_with_parent, kill_survivors


GRACE_S = 5.0
"""How long the group has to stop after SIGTERM before it is killed."""


def group_members(pgid: int) -> list[int]:
    """The pids of process group ``pgid``, except this process (from ``/proc``)."""
    members = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # exited meanwhile
        pid = int(entry.parent.name)
        if int(fields[2]) == pgid and pid != os.getpid():
            members.append(pid)
    return members


def stop_group(pgid: int) -> None:
    """SIGTERM every other member of the group, then SIGKILL those left after the grace."""
    members = group_members(pgid)
    for pid in members:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    kill_survivors(members, grace_s=GRACE_S)


def main(argv: list[str]) -> int:
    """Run ``argv`` (after ``--``), stop its group on SIGTERM or on its exit; its exit code."""
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        sys.stderr.write("usage: python -m stack.group_guard -- COMMAND [ARG...]\n")
        return 2
    die_with_parent(os.getppid(), signal.SIGTERM)
    pgid = os.getpgid(0)
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    try:
        child = subprocess.Popen(argv)  # noqa: S603 - the user's gateway command
    except OSError as exc:
        sys.stderr.write(f"cannot run {argv[0]}: {exc.strerror}\n")
        return 127
    except _Stop:
        return 0
    try:
        code = child.wait()
    except _Stop:
        code = 0
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop_group(pgid)
    child.wait()
    return code


class _Stop(Exception):  # noqa: N818 - a signal, not an error
    """SIGTERM or SIGINT arrived."""


def _raise_stop(_signum: int, _frame: object) -> None:
    raise _Stop


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
