"""cost_usd: list prices per 1M tokens, and nothing for a model without a price."""

from __future__ import annotations

import pytest

from reference_impl.config import DEFAULT_MODELS
from reference_impl.pricing import Price, cost_usd


DEFAULT_PRICES = {route.name: route.price() for route in DEFAULT_MODELS}


@pytest.mark.parametrize(
    ("model", "prompt_tokens", "completion_tokens", "expected_usd"),
    [
        ("gpt-4o", 1_000_000, 0, 2.50),
        ("gpt-4o", 0, 1_000_000, 10.00),
        ("gpt-4o", 2_000, 500, 0.005 + 0.005),
        ("gpt-4o-mini", 1_000_000, 1_000_000, 0.15 + 0.60),
        ("local-llm", 5_000, 5_000, 0.0),
        ("text-embedding-3-small", 1_000_000, 0, 0.02),
        ("text-embedding-3-large", 500_000, 0, 0.065),
    ],
)
def test_known_models_cost_their_list_price(
    model: str, prompt_tokens: int, completion_tokens: int, expected_usd: float
) -> None:
    cost = cost_usd(
        DEFAULT_PRICES[model], prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
    )

    assert cost == pytest.approx(expected_usd)


def test_an_unknown_model_costs_nothing() -> None:
    price = DEFAULT_PRICES.get("some-new-model")

    assert cost_usd(price, prompt_tokens=10_000, completion_tokens=10_000) == 0.0


def test_output_price_defaults_to_zero() -> None:
    price = Price(input_per_mtok_usd=1.0)

    assert cost_usd(price, prompt_tokens=0, completion_tokens=1_000_000) == 0.0
    assert cost_usd(price, prompt_tokens=1_000_000, completion_tokens=0) == pytest.approx(1.0)
