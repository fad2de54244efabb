"""What a call costs in US dollars, from its token usage and the model's price per 1M tokens.

Prices come from the gateway's model routes (``config.ModelRoute``; the defaults are list
prices). Spend is counted per tenant, model and prompt version in the ``cost_usd_total``
metric. A model without a known price costs 0.0: it must never fail a request, only go
unaccounted.
"""

from __future__ import annotations

from dataclasses import dataclass


_TOKENS_PER_PRICE_UNIT = 1_000_000


@dataclass(frozen=True, kw_only=True)
class Price:
    """A model's price in USD per 1M tokens: prompt (input) and completion (output)."""

    input_per_mtok_usd: float
    output_per_mtok_usd: float = 0.0


def cost_usd(price: Price | None, *, prompt_tokens: int, completion_tokens: int) -> float:
    """The cost of one call; 0.0 for a model without a price (``None``)."""
    if price is None:
        return 0.0
    return (
        prompt_tokens * price.input_per_mtok_usd + completion_tokens * price.output_per_mtok_usd
    ) / _TOKENS_PER_PRICE_UNIT
