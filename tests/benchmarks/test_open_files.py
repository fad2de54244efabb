"""The generator's file-descriptor budget."""

import resource

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
