"""The generator's file-descriptor budget."""

import resource
import subprocess
import sys

from benchmarks.open_files import RESERVED_FDS, connection_cap, raise_open_files_limit


def test_the_soft_limit_is_raised_to_the_hard_one() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 1024, hard), hard))
        raised = raise_open_files_limit()
        assert raised == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        assert hard in {raised, resource.RLIM_INFINITY}
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_connection_cap_leaves_room_for_everything_else() -> None:
    assert connection_cap(None) == raise_open_files_limit() - RESERVED_FDS
    assert connection_cap(64) == 64


def test_a_small_limit_keeps_a_quarter_for_everything_else() -> None:
    script = (
        "import resource; resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256)); "
        "from benchmarks.open_files import connection_cap; print(connection_cap(None))"
    )
    finished = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert int(finished.stdout) == 192
