"""The provider's state: the current config and everything built from it."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from stack.provider.config import ModelSpec, ProviderConfig
from stack.provider.errors import NotFoundError
from stack.provider.faults import FaultState
from stack.provider.latency import Deployment, LatencyModel
from stack.provider.ratelimit import RateLimiter
from stack.provider.stats import Stats


WRONG_KIND = {
    "chat": "This is not a chat model and thus not supported in the v1/chat/completions endpoint.",
    "embedding": "This is not an embedding model and thus not supported in the v1/embeddings "
    "endpoint.",
}


@dataclass(frozen=True, slots=True)
class Runtime:
    """One config and its deployments and rate limits; replaced as a whole."""

    config: ProviderConfig
    specs: Mapping[str, ModelSpec]
    deployments: Mapping[str, Deployment]
    limiter: RateLimiter

    @classmethod
    def build(cls, config: ProviderConfig, *, clock: Callable[[], float]) -> Runtime:
        """Fresh deployments and buckets for ``config``."""
        return cls(
            config=config,
            specs={spec.name: spec for spec in config.models},
            deployments={spec.name: Deployment(spec) for spec in config.models},
            limiter=RateLimiter(config.key_limits, clock=clock),
        )

    def model(self, name: str, kind: Literal["chat", "embedding"]) -> ModelSpec:
        """The spec of ``name``, which must be a model of ``kind``."""
        spec = self.specs.get(name)
        if spec is None:
            raise NotFoundError(
                f"The model `{name}` does not exist or you do not have access to it.",
                param="model",
                code="model_not_found",
            )
        if spec.kind != kind:
            raise NotFoundError(WRONG_KIND[kind], param="model")
        return spec


class ProviderState:
    """Mutable state of one provider app, swapped atomically by the control API."""

    def __init__(self, config: ProviderConfig, *, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._initial_config = config
        self.runtime = Runtime.build(config, clock=clock)
        self.stats = Stats(clock=clock)
        self.faults = FaultState(seed=config.seed)
        self.latency = _latency_model(config.seed)

    @property
    def config(self) -> ProviderConfig:
        """The current config."""
        return self.runtime.config

    def apply(self, config: ProviderConfig) -> None:
        """Replace the config; requests in flight finish on the old deployments."""
        self.runtime = Runtime.build(config, clock=self.clock)

    def clear_stats(self) -> None:
        """No stats (the timeline starts again now); config, buckets and faults stay."""
        self.stats = Stats(clock=self.clock)

    def reset(self) -> None:
        """Back to the start: the initial config, fresh buckets, no faults, no stats (the
        timeline starts again now)."""
        config = self._initial_config
        self.runtime = Runtime.build(config, clock=self.clock)
        self.stats = Stats(clock=self.clock)
        self.faults = FaultState(seed=config.seed)
        self.latency = _latency_model(config.seed)


def _latency_model(seed: int) -> LatencyModel:
    return LatencyModel(random.Random(f"latency-{seed}"))  # noqa: S311 - a simulation, not crypto
