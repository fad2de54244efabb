"""Send probes a few at a time, judge every reply, and keep what is needed to reproduce each
failure: the request's bytes and the response."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fuzz_verdicts import Problem, judge
from fuzz_wire import Probe, Reply, send


SHOWN_BYTES = 4_096
"""How much of a failing request and of its response a failure record shows."""


@dataclass
class Outcome:
    """What the replies to a batch of probes were."""

    sent: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    """Status -> replies (``none`` for no response)."""
    problems: Counter[Problem] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    kind_seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    """Kind -> seconds its replies took, summed."""
    failures: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, probe: Probe, reply: Reply) -> None:
        """Count one reply; record it in full if it fails."""
        self.sent += 1
        self.kinds[probe.kind] += 1
        self.kind_seconds[probe.kind] += reply.seconds
        self.statuses[str(reply.status) if reply.status is not None else "none"] += 1
        problem = judge(probe, reply)
        if problem is not None:
            self.problems[problem] += 1
            self.failures.append(failure_record(probe, reply, problem))


async def fire(
    host: str, port: int, probes: Sequence[Probe], *, concurrency: int, deadline_s: float
) -> Outcome:
    """Send every probe, ``concurrency`` at a time, each within ``deadline_s``."""
    outcome = Outcome()
    queue: asyncio.Queue[Probe] = asyncio.Queue()
    for probe in probes:
        queue.put_nowait(probe)

    async def sender() -> None:
        while not queue.empty():
            probe = queue.get_nowait()
            outcome.add(probe, await send(host, port, probe, deadline_s=deadline_s))

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    outcome.seconds = time.perf_counter() - started
    return outcome


def failure_record(probe: Probe, reply: Reply, problem: Problem) -> dict[str, Any]:
    """Everything needed to reproduce a failing request, as JSON."""
    return {
        "problem": str(problem),
        "kind": probe.kind,
        "request": shown(probe.wire),
        "request_parts": len(probe.parts),
        "ending": str(probe.ending),
        "status": reply.status,
        "failure": reply.failure,
        "headers": [list(pair) for pair in reply.headers],
        "body": shown(reply.body),
        "seconds": round(reply.seconds, 3),
    }


def shown(data: bytes) -> str:
    """``data`` as readable text, cut at ``SHOWN_BYTES`` (the full length then noted)."""
    text = data[:SHOWN_BYTES].decode("utf-8", "backslashreplace")
    return text if len(data) <= SHOWN_BYTES else f"{text}... ({len(data)} bytes in all)"
