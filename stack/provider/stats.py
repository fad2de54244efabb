"""Ground-truth counters: what the provider really received and produced.

Counted per tenant (the ``X-Tenant-Id`` header, ``-`` when absent), per model,
per endpoint kind (``chat``, ``embeddings``, ``models``, ``other``) and in
total, for the ``/v1/`` API only, and over time (``timeline``). A request is in
flight from the moment it is accepted until its response is finished, time
spent waiting for a slot included. Completion tokens are those actually sent;
embeddings count their input as prompt tokens. A request whose client went away
before the status was sent is counted as 499.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from stack.provider.timeline import SeriesKey, Timeline


NO_MODEL = "-"
"""The model of a request refused before its model was known."""


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
    """Counters in total, per tenant, per model and per endpoint kind; and the timeline.

    ``clock`` (the provider's monotonic clock) times arrivals on the timeline, which starts
    when the stats are created.
    """

    def __init__(self, *, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.total = Counters()
        self.tenants: dict[str, Counters] = {}
        self.models: dict[str, Counters] = {}
        self.endpoints: dict[str, Counters] = {}
        self.timeline = Timeline(origin=clock(), origin_unix_s=time.time())

    def begin(self, tenant: str, endpoint: str) -> Ticket:
        """Count a request to an ``endpoint`` kind that was just accepted."""
        return Ticket(self, tenant, endpoint)

    def snapshot(self) -> dict[str, object]:
        """A JSON-ready copy of every counter and of the timeline."""
        return {
            "total": self.total.snapshot(),
            "tenants": _snapshots(self.tenants),
            "models": _snapshots(self.models),
            "endpoints": _snapshots(self.endpoints),
            "timeline": self.timeline.snapshot(),
        }


def _snapshots(groups: dict[str, Counters]) -> dict[str, object]:
    return {name: counters.snapshot() for name, counters in sorted(groups.items())}


def _group(groups: dict[str, Counters], name: str) -> Counters:
    counters = groups.get(name)
    if counters is None:
        counters = groups[name] = Counters()
    return counters


class Ticket:
    """One request being counted; its model is added once it is known."""

    __slots__ = (
        "_arrived",
        "_endpoint",
        "_groups",
        "_model",
        "_stats",
        "_tenant",
        "completion_tokens",
        "prompt_tokens",
    )

    def __init__(self, stats: Stats, tenant: str, endpoint: str) -> None:
        self._stats = stats
        self._tenant = tenant
        self._endpoint = endpoint
        self._model = NO_MODEL
        self._arrived = stats.clock()
        self._groups = [
            stats.total,
            _group(stats.tenants, tenant),
            _group(stats.endpoints, endpoint),
        ]
        self.prompt_tokens = 0
        self.completion_tokens = 0
        for group in self._groups:
            group.enter()

    def set_model(self, model: str) -> None:
        """Count the request for ``model`` too."""
        self._model = model
        counters = _group(self._stats.models, model)
        counters.enter()
        self._groups.append(counters)

    def finish(self, status: int) -> None:
        """The response is finished."""
        for group in self._groups:
            group.leave(status, self.prompt_tokens, self.completion_tokens)
        key = SeriesKey(self._endpoint, self._model, self._tenant, str(status))
        self._stats.timeline.add(key, self._arrived)
