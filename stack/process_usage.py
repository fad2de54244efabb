"""CPU time and memory of a process and everything below it, read from ``/proc`` (Linux)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessUsage:
    """CPU seconds and memory of a process and its descendants, read from ``/proc``."""

    cpu_s: float
    """User and system time, with that of reaped children."""
    rss_bytes: int
    peak_rss_bytes: int
    """The sum of each process's own peak (``VmHWM``)."""


def process_usage(pid: int, *, proc: Path = PROC) -> ProcessUsage:
    """The usage of ``pid`` and every process below it; OSError if ``pid`` is gone."""
    ticks_per_s = os.sysconf("SC_CLK_TCK")
    cpu_ticks = rss_kib = peak_kib = 0
    for member in process_tree(pid, proc=proc):
        try:
            fields = _stat_fields(proc / str(member) / "stat")
            status = (proc / str(member) / "status").read_text()
        except OSError:
            if member == pid:
                raise
            continue  # a child that ended meanwhile
        cpu_ticks += sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
        memory = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss_kib += int(memory.get("VmRSS", "0 kB").split()[0])
        peak_kib += int(memory.get("VmHWM", "0 kB").split()[0])
    return ProcessUsage(cpu_ticks / ticks_per_s, rss_kib * 1024, peak_kib * 1024)


def process_tree(pid: int, *, proc: Path = PROC) -> list[int]:
    """``pid`` and its descendants, parents first."""
    children: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                parent = int(_stat_fields(entry / "stat")[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry.name))
    tree = [pid]
    for member in tree:
        tree.extend(children.get(member, ()))
    return tree


def _stat_fields(path: Path) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` from the state on (field 3 is index 0)."""
    text = path.read_text()
    return text[text.rindex(")") + 2 :].split()
