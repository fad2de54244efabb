"""A stand-in for ``GatewayMetrics`` that keeps every event reported to it, so unit tests
assert what a component reported rather than how the exposition labels it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


Event = tuple[str, tuple[Any, ...], dict[str, Any]]


class Reports:
    """Any ``GatewayMetrics`` method call is kept as ``(method, args, labels)``."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __getattr__(self, method: str) -> Callable[..., None]:
        def report(*args: Any, **labels: Any) -> None:
            self.events.append((method, args, labels))

        return report

    def count(self, method: str, *args: Any, **labels: Any) -> int:
        """How many ``method`` events had exactly these arguments."""
        return self.events.count((method, args, labels))

    def of(self, method: str) -> list[dict[str, Any]]:
        """The keyword arguments of every ``method`` event, in order."""
        return [labels for name, _, labels in self.events if name == method]
