"""Requests the generator cannot make for want of descriptors: its failure, not the target's."""

import json
import subprocess
import sys
import textwrap

from benchmarks.op import ErrorKind


SCRIPT = textwrap.dedent(
    """
    import asyncio, json, resource, socket
    from benchmarks.arrivals import Arrivals, Constant
    from benchmarks.plan import LoadPlan
    from benchmarks.runner import run_load
    from benchmarks.target import Target
    from benchmarks.workload import Workload

    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    silent = socket.create_server(("127.0.0.1", 0), backlog=512)  # accepts, never answers
    url = "http://127.0.0.1:%d" % silent.getsockname()[1]
    plan = LoadPlan(
        Workload(arrivals=Arrivals(Constant(200), "regular")),
        duration_s=0.5,
        target=Target(url, timeout_s=1.0, max_connections=1000),
    )
    result = asyncio.run(run_load(plan))
    errors = [int(e) for e in result.table.ops["error"]]
    print(json.dumps({"errors": errors, "shortfall": result.shortfall()}))
    """
)


def test_running_out_of_file_descriptors_is_a_client_error() -> None:
    finished = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert finished.returncode == 0, finished.stderr
    report = json.loads(finished.stdout)
    # Some connections fit in 64 descriptors and time out; the rest could not be made.
    assert set(report["errors"]) == {ErrorKind.TIMEOUT, ErrorKind.CLIENT}
    assert "file descriptors" in report["shortfall"]
