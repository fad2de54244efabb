"""Injected faults: error rates, brownouts, stalls, cut streams, bad bodies.

A ``FaultSettings`` describes what can go wrong; ``FaultState`` holds default settings
and per-model ones (a model's own settings replace the default for it) and
turns them into a ``FaultPlan`` per request with a seeded random source, so a
run with the same seed and the same request order injects the same faults.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


INJECTABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class FaultSettings(BaseModel):
    """What goes wrong, and how often."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    error_rates: dict[int, float] = Field(default_factory=dict)
    """Share of requests answered with each status (429, 500, 502, 503, 504)."""
    retry_after_s: float = Field(default=1.0, ge=0.0)
    """Sent with injected 429s (``retry-after`` and ``retry-after-ms``)."""
    latency_multiplier: float = Field(default=1.0, gt=0.0)
    """Brownout: every time to first token and every gap is multiplied by it."""
    stall_after_tokens: int | None = Field(default=None, ge=0)
    stall_ms: float = Field(default=0.0, ge=0.0)
    stall_probability: float = Field(default=1.0, ge=0.0, le=1.0)
    """A response pauses ``stall_ms`` after ``stall_after_tokens`` tokens."""
    truncate_after_tokens: int | None = Field(default=None, ge=0)
    truncate_probability: float = Field(default=1.0, ge=0.0, le=1.0)
    """The connection is cut after ``truncate_after_tokens`` tokens."""
    malformed_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    """Share of 200 responses whose body (or one SSE event) is not valid JSON."""

    @model_validator(mode="after")
    def _check_error_rates(self) -> Self:
        unknown = sorted(set(self.error_rates) - INJECTABLE_STATUSES)
        if unknown:
            allowed = ", ".join(map(str, sorted(INJECTABLE_STATUSES)))
            raise ValueError(f"error_rates: status {unknown[0]} cannot be injected ({allowed})")
        if any(not 0.0 <= rate <= 1.0 for rate in self.error_rates.values()):
            raise ValueError("error_rates: each rate must be between 0 and 1")
        if sum(self.error_rates.values()) > 1.0 + 1e-9:
            raise ValueError("error_rates: the rates must sum to at most 1")
        return self


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """The faults one request suffers."""

    error_status: int | None = None
    retry_after_s: float = 0.0
    latency_multiplier: float = 1.0
    stall_after_tokens: int | None = None
    stall_s: float = 0.0
    truncate_after_tokens: int | None = None
    malformed: bool = False


NO_FAULTS = FaultPlan()


class FaultState:
    """The faults currently injected, and the random source that applies them."""

    def __init__(self, *, seed: int) -> None:
        self.default: FaultSettings | None = None
        self.models: dict[str, FaultSettings] = {}
        self._rng = random.Random(f"faults-{seed}")  # noqa: S311 - a simulation, not crypto

    def set(self, spec: FaultSettings, *, model: str | None = None) -> None:
        """Inject ``spec`` for ``model``, or as the default."""
        if model is None:
            self.default = spec
        else:
            self.models[model] = spec

    def clear(self, *, model: str | None = None) -> None:
        """Heal ``model``'s faults, or every fault."""
        if model is None:
            self.default = None
            self.models.clear()
        else:
            self.models.pop(model, None)

    def plan(self, model: str) -> FaultPlan:
        """Draw the faults of one request to ``model``."""
        spec = self.models.get(model, self.default)
        if spec is None:
            return NO_FAULTS
        draw = self._rng.random
        return FaultPlan(
            error_status=_pick_status(spec.error_rates, draw()),
            retry_after_s=spec.retry_after_s,
            latency_multiplier=spec.latency_multiplier,
            stall_after_tokens=spec.stall_after_tokens if draw() < spec.stall_probability else None,
            stall_s=spec.stall_ms / 1000.0,
            truncate_after_tokens=(
                spec.truncate_after_tokens if draw() < spec.truncate_probability else None
            ),
            malformed=draw() < spec.malformed_rate,
        )


def _pick_status(rates: dict[int, float], draw: float) -> int | None:
    cumulative = 0.0
    for status in sorted(rates):
        cumulative += rates[status]
        if draw < cumulative:
            return status
    return None
