"""What a peer serves: the scenario's models with their fallbacks, and the adapter interface.

Both peers are configured to the same resilience budget as our hardened gateway where they have
an equivalent knob, so that a comparison measures the implementation, not the tuning: two
retries after the first attempt, a 30 s timeout per upstream attempt, and the fallback chain of
each model (``gpt-4o -> gpt-4o-mini -> local-llm`` by default).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from stack.gateway_command import GatewayCommand


PROVIDER_API_KEY = "sk-meltproof"
"""The key a peer sends upstream: the simulated provider takes any bearer key, and this is the
one our gateway sends, so per-key rate limits treat every target alike."""
RETRIES = 2
"""Retries after the first attempt of one model."""
UPSTREAM_TIMEOUT_S = 30
"""The longest single upstream attempt."""
RETRY_STATUSES = (429, 500, 502, 503, 504)
"""Statuses that are worth another attempt (rate limited, or the provider failed)."""


class ServedModel(Protocol):
    """A model the scenario serves (``reference_impl.config.ModelRoute`` is one)."""

    @property
    def name(self) -> str:
        """The model's name, as clients ask for it and as the provider serves it."""

    @property
    def kind(self) -> str:
        """``chat`` or ``embedding``."""

    @property
    def fallback(self) -> str | None:
        """The model tried when this one fails, if any."""


@dataclass(frozen=True)
class PeerModel:
    """A ``ServedModel`` given by hand (a benchmark's single model, say)."""

    name: str
    kind: str = "chat"
    fallback: str | None = None


class PeerAdapter(Protocol):
    """Installs a peer once and says how to start it for the models served."""

    def __call__(
        self,
        models: Sequence[ServedModel],
        *,
        cache_dir: Path,
        on_progress: Callable[[str], None],
        workers: int = 1,
    ) -> GatewayCommand:
        """The peer's command; ``on_progress`` hears about a (slow, one-time) install."""


def fallback_chains(models: Sequence[ServedModel]) -> dict[str, list[str]]:
    """Every model -> itself, then its fallbacks in order.

    ``ValueError`` when a fallback is not among ``models``, is of another kind, or loops.
    """
    by_name = {model.name: model for model in models}
    chains: dict[str, list[str]] = {}
    for model in models:
        chain = [model.name]
        link = model.fallback
        while link is not None:
            target = by_name.get(link)
            if target is None or target.kind != model.kind:
                raise ValueError(
                    f"{chain[-1]} falls back to {link}, which is not a served {model.kind} model"
                )
            if link in chain:
                raise ValueError(f"the fallback chain of {model.name} loops at {link}")
            chain.append(link)
            link = target.fallback
        chains[model.name] = chain
    return chains
