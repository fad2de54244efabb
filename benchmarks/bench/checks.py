"""A benchmark's check: one of its targets, met, missed or undecided."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """One target of the benchmark: met (True), missed (False) or undecided (None)."""

    name: str
    passed: bool | None
    detail: str

    def line(self) -> str:
        """``[pass] name: detail``."""
        mark = {True: "pass", False: "FAIL", None: "n/a"}[self.passed]
        return f"[{mark}] {self.name}: {self.detail}"
