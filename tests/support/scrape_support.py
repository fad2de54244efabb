"""Scraping a gateway's ``/metrics``, which asks for the configured bearer token."""

from __future__ import annotations

from stack import Stack
from stack.gateway_config import metrics_token_of


METRICS_TOKEN = "test-metrics-scrape-token"  # noqa: S105 - a test token
"""The scrape token of the gateways tests configure themselves (``metrics_token``)."""


def scrape_auth(token: str = METRICS_TOKEN) -> dict[str, str]:
    """The Authorization header of a scrape."""
    return {"Authorization": f"Bearer {token}"}


def stack_scrape_auth(stack: Stack) -> dict[str, str]:
    """The Authorization header of a scrape of the stack's own gateway."""
    if stack.gateway_config is None:
        raise RuntimeError("the stack runs no gateway of ours")
    token = metrics_token_of(stack.gateway_config)
    if token is None:
        raise RuntimeError(f"{stack.gateway_config} sets no metrics_token")
    return scrape_auth(token)
