"""Process metrics (CPU, memory, file descriptors, start time) of every live gateway worker.

prometheus_client's ``ProcessCollector`` reports the process it runs in only, and in
multiprocess mode not even that, since ``/metrics`` is built from the workers' files. This
collector reads ``/proc/<pid>`` of each live worker when scraped, under the standard
``process_*`` names, each sample labelled with its worker's ``pid``.

The live workers are found the way prometheus_client keeps its live gauges: each worker's
``GatewayMetrics`` writes its ``build_info`` to ``gauge_livemax_<pid>.db`` in
``PROMETHEUS_MULTIPROC_DIR`` when it starts, and the supervisor deletes a dead worker's live
gauge files (``mark_process_dead``). A pid whose process is gone (killed, not yet restarted)
is skipped as well.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from prometheus_client.metrics_core import Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector


LIVE_GAUGE_FILE = re.compile(r"^gauge_live[a-z]+_(\d+)\.db$")


def this_process() -> list[int]:
    """The pid of the one worker of a single-process gateway."""
    return [os.getpid()]


def live_workers(directory: str) -> list[int]:
    """The pids of the running workers that write metrics to ``directory``."""
    pids = {
        int(found[1])
        for path in Path(directory).iterdir()
        if (found := LIVE_GAUGE_FILE.match(path.name))
    }
    return sorted(pid for pid in pids if _running(pid))


def _running(pid: int) -> bool:
    """Whether our process ``pid`` runs (another user's would be a reused pid)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


class WorkerProcesses(Collector):
    """``process_*`` of every pid ``pids`` gives, labelled ``pid``."""

    def __init__(self, pids: Callable[[], Iterable[int]], *, proc: str = "/proc") -> None:
        self._pids = pids
        self._proc = proc

    def collect(self) -> Iterable[Metric]:
        """One family per ``process_*`` metric, one sample per worker."""
        merged: dict[str, Metric] = {}
        for pid in self._pids():
            for family in self._reader(pid).collect():
                into = merged.get(family.name)
                if into is None:
                    into = merged[family.name] = Metric(
                        family.name, family.documentation, family.type
                    )
                for sample in family.samples:
                    into.add_sample(sample.name, {**sample.labels, "pid": str(pid)}, sample.value)
        return list(merged.values())

    def _reader(self, pid: int) -> ProcessCollector:
        return ProcessCollector(pid=lambda: pid, proc=self._proc, registry=None)
