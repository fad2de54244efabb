"""Ground-truth counters: what the provider really received and produced.

Counted per tenant (the ``X-Tenant-Id`` header, ``-`` when absent), per model
and in total, for the ``/v1/`` API only. A request is in flight from the
moment it is accepted until its response is finished, time spent waiting for
a slot included. Completion tokens are those actually sent; embeddings count
their input as prompt tokens. A request whose client went away before the
status was sent is counted as 499.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Counters:
    """The counters of one group of requests."""

    requests: int = 0
    status: dict[str, int] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    in_flight: int = 0
    max_in_flight: int = 0

    def enter(self) -> None:
        """A request was accepted."""
        self.requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self, status: int, prompt_tokens: int, completion_tokens: int) -> None:
        """A request finished with ``status``."""
        self.in_flight -= 1
        key = str(status)
        self.status[key] = self.status.get(key, 0) + 1
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens

    def snapshot(self) -> dict[str, object]:
        """A JSON-ready copy."""
        return {
            "requests": self.requests,
            "status": dict(self.status),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
        }


class Stats:
    """Counters in total, per tenant and per model."""

    def __init__(self) -> None:
        self.total = Counters()
        self.tenants: dict[str, Counters] = {}
        self.models: dict[str, Counters] = {}

    def begin(self, tenant: str) -> Ticket:
        """Count a request that was just accepted."""
        return Ticket(self, tenant)

    def snapshot(self) -> dict[str, object]:
        """A JSON-ready copy of every counter."""
        return {
            "total": self.total.snapshot(),
            "tenants": {name: c.snapshot() for name, c in sorted(self.tenants.items())},
            "models": {name: c.snapshot() for name, c in sorted(self.models.items())},
        }


class Ticket:
    """One request being counted; its model is added once it is known."""

    __slots__ = ("_groups", "_stats", "completion_tokens", "prompt_tokens")

    def __init__(self, stats: Stats, tenant: str) -> None:
        self._stats = stats
        tenant_counters = stats.tenants.get(tenant)
        if tenant_counters is None:
            tenant_counters = stats.tenants[tenant] = Counters()
        self._groups = [stats.total, tenant_counters]
        self.prompt_tokens = 0
        self.completion_tokens = 0
        for group in self._groups:
            group.enter()

    def set_model(self, model: str) -> None:
        """Count the request for ``model`` too."""
        counters = self._stats.models.get(model)
        if counters is None:
            counters = self._stats.models[model] = Counters()
        counters.enter()
        self._groups.append(counters)

    def finish(self, status: int) -> None:
        """The response is finished."""
        for group in self._groups:
            group.leave(status, self.prompt_tokens, self.completion_tokens)
