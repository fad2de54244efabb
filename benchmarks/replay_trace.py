"""A recorded workload, ready to replay: one row per request, as columns, in arrival order.

Two readers fill it: ``replay_access_log`` (the gateway's access log: salted fingerprints,
never prompts) and ``replay_batch`` (OpenAI batch-API input: real prompts, no times).

``request`` numbers the distinct requests: two rows share it exactly when the recorded
requests would share a cache entry (same tenant, route, prompt, model, prompt version,
``max_tokens`` and temperature; streaming or not does not matter). A replay sends one body
per ``request``, so the cache and coalescing see the recorded repetition.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import numpy.typing as npt


Scalar = TypeVar("Scalar", bound=np.generic)
NO_MAX_TOKENS = 0
"""``max_tokens`` of a request that sets none."""


class TraceError(ValueError):
    """A replay file that cannot be read; the message names the file, the line and the field."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, eq=False)
class ReplayTrace:
    """Recorded requests sorted by arrival.

    ``at_s`` is seconds from the first arrival (None for a file without times, the batch
    API's input). ``tenant``, ``endpoint``, ``model`` and ``prompt_version`` index into their
    name tables; endpoint names are the load generator's (``chat``, ``chat_stream``,
    ``embeddings``). Per row: ``prompt_tokens`` as recorded (0 unknown), ``max_tokens`` to
    send (``NO_MAX_TOKENS``: none), ``temperature`` (NaN: none). ``prompts`` holds the
    recorded messages (chat) or input (embeddings) of each ``request`` when the file had
    them; without them a replay makes a synthetic prompt of ``prompt_tokens``.
    """

    source: str
    at_s: npt.NDArray[np.float64] | None
    tenant: npt.NDArray[np.uint16]
    endpoint: npt.NDArray[np.uint8]
    request: npt.NDArray[np.int32]
    prompt_tokens: npt.NDArray[np.int32]
    max_tokens: npt.NDArray[np.int32]
    temperature: npt.NDArray[np.float64]
    model: npt.NDArray[np.uint16]
    prompt_version: npt.NDArray[np.uint16]
    tenants: tuple[str, ...]
    endpoints: tuple[str, ...]
    models: tuple[str, ...]
    prompt_versions: tuple[str, ...]
    prompts: tuple[object, ...] | None = None
    skipped: int = 0
    """Lines of the file that are not requests to replay (other log lines, internal calls)."""

    def __post_init__(self) -> None:
        n = len(self.request)
        for name in ("tenant", "endpoint", "prompt_tokens", "max_tokens", "temperature",
                     "model", "prompt_version"):  # fmt: skip
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} rows, request has {n}")
        if self.at_s is not None and (len(self.at_s) != n or np.any(np.diff(self.at_s) < 0)):
            raise ValueError("at_s must have one sorted time per row")
        if self.prompts is not None and n and int(self.request.max()) >= len(self.prompts):
            raise ValueError("prompts must hold one entry per request")

    def __len__(self) -> int:
        return len(self.request)

    @property
    def span_s(self) -> float:
        """Seconds from the first arrival to the last (0 without times)."""
        if self.at_s is None or not len(self.at_s):
            return 0.0
        return float(self.at_s[-1])


@dataclass
class TraceBuilder:
    """Collects rows (in any order) and numbers names and distinct requests as they come."""

    source: str
    times: list[float] = field(default_factory=list)
    columns: dict[str, list[int | float]] = field(default_factory=dict)
    names: dict[str, dict[str, int]] = field(default_factory=dict)
    requests: dict[Hashable, int] = field(default_factory=dict)
    prompts: list[object] = field(default_factory=list)
    skipped: int = 0

    def index(self, table: str, name: str) -> int:
        """The number of ``name`` in ``table`` (tenants, endpoints, models, prompt_versions)."""
        names = self.names.setdefault(table, {})
        return names.setdefault(name, len(names))

    def add(
        self,
        *,
        at_s: float | None,
        tenant: str,
        endpoint: str,
        identity: Hashable,
        prompt: object,
        prompt_tokens: int,
        max_tokens: int,
        temperature: float | None,
        model: str,
        prompt_version: str,
    ) -> None:
        """One request; ``identity`` is what makes it the same request as another."""
        if at_s is not None:
            self.times.append(at_s)
        request = self.requests.setdefault(identity, len(self.requests))
        if request == len(self.prompts):
            self.prompts.append(prompt)
        row: dict[str, int | float] = {
            "tenant": self.index("tenants", tenant),
            "endpoint": self.index("endpoints", endpoint),
            "request": request,
            "prompt_tokens": prompt_tokens,
            "max_tokens": max_tokens,
            "temperature": math.nan if temperature is None else temperature,
            "model": self.index("models", model),
            "prompt_version": self.index("prompt_versions", prompt_version),
        }
        for name, value in row.items():
            self.columns.setdefault(name, []).append(value)

    def build(self, *, keep_prompts: bool) -> ReplayTrace:
        """The trace, rows sorted by arrival (stable: the file's order among equal times)."""
        n = len(self.columns.get("request", ()))
        if n == 0:
            raise TraceError(self.source, None, "no requests to replay in this file")
        order = np.argsort(np.asarray(self.times), kind="stable") if self.times else np.arange(n)

        def column(name: str, dtype: type[Scalar]) -> npt.NDArray[Scalar]:
            return np.asarray(self.columns[name])[order].astype(dtype)

        at_s = None
        if self.times:
            times = np.asarray(self.times, dtype=np.float64)[order]
            at_s = times - times[0]
        return ReplayTrace(
            source=self.source,
            at_s=at_s,
            tenant=column("tenant", np.uint16),
            endpoint=column("endpoint", np.uint8),
            request=column("request", np.int32),
            prompt_tokens=column("prompt_tokens", np.int32),
            max_tokens=column("max_tokens", np.int32),
            temperature=column("temperature", np.float64),
            model=column("model", np.uint16),
            prompt_version=column("prompt_version", np.uint16),
            tenants=self._names("tenants"),
            endpoints=self._names("endpoints"),
            models=self._names("models"),
            prompt_versions=self._names("prompt_versions"),
            prompts=tuple(self.prompts) if keep_prompts else None,
            skipped=self.skipped,
        )

    def _names(self, table: str) -> tuple[str, ...]:
        return tuple(self.names.get(table, {}))
