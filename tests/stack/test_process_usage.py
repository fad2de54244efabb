"""CPU time and memory of a process tree, read from /proc."""

import json
import os
import subprocess
import sys

import pytest

from stack.process_usage import process_tree, process_usage


TICK_S = 1 / os.sysconf("SC_CLK_TCK")


_SELF_ACCOUNTING = """
import json, os, sys
from stack.process_usage import process_usage
sum(i * i for i in range(2_000_000))  # some CPU time to measure
peak = bytearray(200 * 2**20)  # a peak of 200 MiB, then given back
del peak
before = os.times()
usage = process_usage(os.getpid())
after = os.times()
print(json.dumps({
    "before": before.user + before.system, "after": after.user + after.system,
    "cpu_s": usage.cpu_s, "rss": usage.rss_bytes, "peak": usage.peak_rss_bytes,
}))
"""


def test_process_usage_of_a_process_matches_its_own_accounting():
    # In a fresh process: this one may have live children (the test stack) that /proc counts
    # and os.times() does not.
    done = subprocess.run(
        [sys.executable, "-c", _SELF_ACCOUNTING], capture_output=True, text=True, check=True
    )
    seen = json.loads(done.stdout)
    assert seen["before"] > 0
    assert seen["before"] - 2 * TICK_S <= seen["cpu_s"] <= seen["after"] + 2 * TICK_S
    assert 0 < seen["rss"] < 200 * 2**20 <= seen["peak"]


def test_the_process_tree_counts_a_child_process():
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        assert child.pid in process_tree(os.getpid())
        assert os.getpid() not in process_tree(child.pid)
    finally:
        child.communicate(b"")


def _fake_process(proc, pid, ppid, *, ticks, hwm_kib, rss_kib, comm="(python) x)"):
    utime, stime, cutime, cstime = ticks
    (proc / str(pid)).mkdir()
    fields = ["S", ppid, 1, 1, 0, -1, 0, 0, 0, 0, 0, utime, stime, cutime, cstime, 20, 0, 1]
    (proc / str(pid) / "stat").write_text(f"{pid} {comm} {' '.join(map(str, fields))}\n")
    status = f"Name:\tpython\nVmHWM:\t  {hwm_kib} kB\nVmRSS:\t  {rss_kib} kB\n"
    (proc / str(pid) / "status").write_text(status)


def test_proc_fields_are_read_after_the_command_name_whatever_it_holds(tmp_path):
    _fake_process(tmp_path, 10, 1, ticks=(100, 50, 7, 3), hwm_kib=2048, rss_kib=1024)
    _fake_process(tmp_path, 11, 10, ticks=(20, 10, 0, 0), hwm_kib=512, rss_kib=256, comm="(a b)")
    _fake_process(tmp_path, 12, 1, ticks=(999, 999, 0, 0), hwm_kib=9999, rss_kib=9999)
    (tmp_path / "self").mkdir()
    usage = process_usage(10, proc=tmp_path)
    assert process_tree(10, proc=tmp_path) == [10, 11]
    assert usage.cpu_s == pytest.approx(190 * TICK_S)
    assert (usage.peak_rss_bytes, usage.rss_bytes) == (2560 * 1024, 1280 * 1024)


def test_a_vanished_process_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        process_usage(10, proc=tmp_path)
