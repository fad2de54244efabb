"""What a call costs in US dollars, from its token usage and the model's price per 1M tokens.

The gateway counts spend per tenant, model and prompt version; budgets and the
``cost_usd_total`` metric both come from ``cost_usd``. A model without a known price
costs 0.0: an unpriced model must never fail a request, only go unaccounted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


_TOKENS_PER_PRICE_UNIT = 1_000_000


@dataclass(frozen=True, kw_only=True)
class Price:
    """A model's price in USD per 1M tokens: prompt (input) and completion (output)."""

    input_per_mtok_usd: float
    output_per_mtok_usd: float = 0.0


# Providers' list prices, used as defaults only; the gateway's configuration may override them.
DEFAULT_PRICES: Mapping[str, Price] = MappingProxyType(
    {
        "gpt-4o": Price(input_per_mtok_usd=2.50, output_per_mtok_usd=10.00),
        "gpt-4o-mini": Price(input_per_mtok_usd=0.15, output_per_mtok_usd=0.60),
        "local-llm": Price(input_per_mtok_usd=0.0, output_per_mtok_usd=0.0),
        "text-embedding-3-small": Price(input_per_mtok_usd=0.02),
        "text-embedding-3-large": Price(input_per_mtok_usd=0.13),
    }
)


def cost_usd(price: Price | None, *, prompt_tokens: int, completion_tokens: int) -> float:
    """The cost of one call; 0.0 for a model without a price (``None``)."""
    if price is None:
        return 0.0
    return (
        prompt_tokens * price.input_per_mtok_usd + completion_tokens * price.output_per_mtok_usd
    ) / _TOKENS_PER_PRICE_UNIT
