"""A fuzz run's figures and verdict: written as JSON (``summary.json``), printed as lines."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fuzz_run import Outcome
from fuzz_verdicts import Problem


RSS_GROWTH_BOUND_BYTES = 48 << 20
"""The most a worker's resident memory may grow over a run, measured after the warm-up.

Measured on this 2-core machine: over 10,000 requests the two workers grew by 8.4 and
15.5 MiB, over 300 by 0.3 to 11 MiB. That growth is the allocator keeping the arenas of the
largest bodies a worker happened to hold at once (3 MiB bodies, 40,000-key objects, 10,000
messages; which worker gets them varies), and it comes early in the run. 48 MiB is three
times the largest growth measured, and what a worker would grow by if it kept 10 KiB, a
modest request, of each of the 5,000 requests it serves: a leak of that size fails the run,
the allocator's high-water mark does not."""


@dataclass(frozen=True)
class Summary:
    """Everything a run measured."""

    outcome: Outcome
    warmup: Outcome
    seed: int
    concurrency: int
    deadline_s: float
    pids_before: list[int]
    pids_after: list[int]
    restart_lines: list[str]
    error_lines: list[str]
    rss_before: Mapping[int, int]
    rss_after: Mapping[int, int]
    canary: str
    canary_hits: Mapping[str, list[str]]
    load_average_before: str
    failures_file: Path

    def problems(self) -> dict[str, int]:
        """Problem -> replies with it, over the warm-up and the run."""
        merged = self.warmup.problems + self.outcome.problems
        return {str(problem): merged[problem] for problem in Problem}

    def restarts(self) -> int:
        """Workers that were replaced, by pid or by the supervisor's log."""
        replaced = len(set(self.pids_before) - set(self.pids_after))
        return max(replaced, len(self.restart_lines))

    def rss_growth(self) -> dict[int, int]:
        """Worker pid -> bytes its resident memory grew by over the run."""
        return {pid: self.rss_after.get(pid, 0) - self.rss_before[pid] for pid in self.rss_before}

    def verdicts(self) -> list[str]:
        """Why the run fails; empty when it passes."""
        reasons = [f"{count} replies: {name}" for name, count in self.problems().items() if count]
        if self.restarts():
            reasons.append(f"{self.restarts()} worker restarts: {self.restart_lines[:3]}")
        if self.error_lines:
            reasons.append(f"{len(self.error_lines)} error lines logged: {self.error_lines[:3]}")
        grown = {
            pid: growth
            for pid, growth in self.rss_growth().items()
            if growth > RSS_GROWTH_BOUND_BYTES
        }
        if grown:
            reasons.append(f"worker memory grew past {_mib(RSS_GROWTH_BOUND_BYTES)}: {grown}")
        hits = {where: _first(found) for where, found in self.canary_hits.items() if found}
        if hits:
            reasons.append(f"the canary prompt leaked: {hits}")
        return reasons

    def as_json(self) -> dict[str, Any]:
        """The summary file's document."""
        problems = self.problems()
        sent = self.outcome.sent
        return {
            "passed": not self.verdicts(),
            "requests": sent,
            "warmup_requests": self.warmup.sent,
            "seed": self.seed,
            "concurrency": self.concurrency,
            "deadline_s": self.deadline_s,
            "duration_s": round(self.outcome.seconds, 1),
            "requests_per_s": round(sent / self.outcome.seconds, 1) if self.outcome.seconds else 0,
            "server_errors_5xx": problems[Problem.SERVER_ERROR],
            "non_json": problems[Problem.NOT_JSON],
            "hangs": problems[Problem.HANG],
            "problems": problems,
            "restarts": self.restarts(),
            "worker_pids": {"before": self.pids_before, "after": self.pids_after},
            "restart_log_lines": self.restart_lines,
            "errors_logged": len(self.error_lines),
            "error_log_lines": self.error_lines[:50],
            "rss_bytes": {
                "growth_bound_per_worker": RSS_GROWTH_BOUND_BYTES,
                "workers": {
                    str(pid): {
                        "before": before,
                        "after": self.rss_after.get(pid),
                        "growth": self.rss_growth()[pid],
                    }
                    for pid, before in self.rss_before.items()
                },
            },
            "canary": {"marker": self.canary, "hits": dict(self.canary_hits)},
            "statuses": dict(sorted((self.warmup.statuses + self.outcome.statuses).items())),
            "kinds": dict(sorted(self.outcome.kinds.items())),
            "seconds_by_kind": {
                kind: round(seconds, 2)
                for kind, seconds in sorted(self.outcome.kind_seconds.items(), key=lambda i: -i[1])
            },
            "load_average_before": self.load_average_before,
            "failures_file": str(self.failures_file),
        }

    def figures(self) -> list[str]:
        """The run in a few lines."""
        document = self.as_json()
        rss = ", ".join(
            f"{pid}: {_mib(w['before'])} -> {_mib(w['after'] or 0)}"
            for pid, w in document["rss_bytes"]["workers"].items()
        )
        hits = sum(len(found) for found in self.canary_hits.values())
        return [
            (
                f"{document['requests']} hostile requests (+{document['warmup_requests']}"
                f" warm-up), seed {self.seed}, in {document['duration_s']} s"
                f" ({document['requests_per_s']}/s, {self.concurrency} at a time)"
            ),
            f"statuses: {document['statuses']}",
            "problems: "
            + (", ".join(f"{k} {v}" for k, v in document["problems"].items() if v) or "none"),
            (
                f"5xx {document['server_errors_5xx']}, non-JSON {document['non_json']},"
                f" hangs {document['hangs']}, restarts {document['restarts']},"
                f" errors logged {document['errors_logged']}, canary hits {hits}"
            ),
            f"worker RSS (before -> after): {rss}; bound +{_mib(RSS_GROWTH_BOUND_BYTES)}",
            f"load average before: {self.load_average_before}",
        ]


def write(summary: Summary, directory: Path) -> Path:
    """Write ``summary.json`` and the failure records (``failures.jsonl``) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    with summary.failures_file.open("w", encoding="utf-8") as file:
        for record in summary.warmup.failures + summary.outcome.failures:
            file.write(json.dumps(record) + "\n")
    path = directory / "summary.json"
    path.write_text(json.dumps(summary.as_json(), indent=2) + "\n", encoding="utf-8")
    return path


def _first(found: list[str], shown: int = 5) -> list[str]:
    """The first few of ``found``, and how many there are when that is more."""
    return found[:shown] + ([f"... {len(found)} in all"] if len(found) > shown else [])


def _mib(value: int) -> str:
    return f"{value / (1 << 20):.1f} MiB"
