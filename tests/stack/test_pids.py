"""Whether a process runs, by its pid."""

import os
import subprocess
import sys

from stack.pids import pid_alive


def test_a_running_process_is_alive_and_an_exited_one_is_not() -> None:
    assert pid_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not pid_alive(child.pid)


def test_another_user_s_process_is_alive() -> None:
    assert pid_alive(1)  # init: signalling it is refused to most, but it runs


def test_a_pid_that_names_no_process_is_not_alive() -> None:
    assert not pid_alive(0)
    assert not pid_alive(-1)
    assert not pid_alive(2**70)
