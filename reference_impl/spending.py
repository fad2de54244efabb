"""Tokens and money: budget admission, downgrade and settlement, and cost accounting.

Admission reserves the request's maximum tokens (its prompt, estimated from above, plus its
output cap; a budgeted request without a cap gets the configured default as its cap, so that
the reservation bounds it). Settlement replaces the reservation with the provider's usage.
Past the warn level the answer carries ``x-budget-warning``; past the hard level the request
is downgraded (cheaper model, fewer output tokens, shorter context); past the ceiling it is
refused with a 429. The prompt estimate is an upper bound for text; images and tool schemas
are not estimated, and a structured-output repair is a second call: such a request can
settle more than it reserved, which loosens the "one request over the ceiling" bound.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from typing import Any

from .answer import Answer
from .budget import BudgetExhausted, BudgetLevel, BudgetPlan
from .exchange import Exchange
from .pricing import cost_usd
from .tracing import Attr, SpanName


log = logging.getLogger(__name__)
KEPT_MESSAGES_WHEN_DOWNGRADED = 6


async def admit_budget(exchange: Exchange) -> Answer | None:
    """Reserve the request's tokens; a 429 answer when the tenant is past its ceiling."""
    gateway, tenant = exchange.gateway, exchange.tenant
    if gateway.budgets is None or tenant.budget is None:
        return None
    if exchange.max_output_tokens is None and exchange.route.kind == "chat":
        exchange.max_output_tokens = gateway.config.budgets.default_max_output_tokens
        exchange.rewrite_body(max_tokens=exchange.max_output_tokens)
    with gateway.tracing.span(SpanName.BUDGET) as span:
        try:
            reservation = await gateway.budgets.admit(
                tenant.name,
                BudgetPlan(**tenant.budget.model_dump()),
                prompt_tokens=exchange.prompt_tokens,
                max_output_tokens=exchange.max_output_tokens or 0,
            )
        except BudgetExhausted as exc:
            span.set(Attr.OUTCOME, "reject")
            gateway.metrics.budget(tenant=tenant.name, event="reject")
            log.warning(
                "tenant %s is past its token ceiling (%d tokens)", tenant.name, exc.used_tokens
            )
            return budget_refusal(exc)
        span.set(Attr.OUTCOME, reservation.level.value)
    exchange.reservation = reservation
    if reservation.level is BudgetLevel.OK:
        return None
    used_pct = round(100 * reservation.used_tokens / max(1, reservation.limit_tokens))
    exchange.headers["x-budget-warning"] = f"{used_pct}% of the token budget used"
    gateway.metrics.budget(tenant=tenant.name, event=reservation.level.value)
    log.warning("tenant %s has used %d%% of its token budget", tenant.name, used_pct)
    if reservation.level is BudgetLevel.DOWNGRADE:
        downgrade(exchange, reservation.max_output_tokens)
    return None


def budget_refusal(exc: BudgetExhausted) -> Answer:
    """The 429 a tenant past its ceiling gets."""
    body = {
        "error": {
            "message": (
                f"tenant {exc.tenant} has used {exc.used_tokens} tokens, past its ceiling of "
                f"{exc.ceiling_tokens} for this period"
            ),
            "type": "insufficient_quota",
            "param": None,
            "code": "token_budget_exhausted",
        }
    }
    retry = str(max(1, math.ceil(exc.retry_after_s)))
    return Answer(status=429, body=json.dumps(body).encode(), headers={"retry-after": retry})


def downgrade(exchange: Exchange, max_output_tokens: int) -> None:
    """Past the hard budget: the cheaper model, fewer output tokens, a shorter context."""
    route = exchange.gateway.config.route(exchange.model)
    if route is not None and route.downgrade_to is not None:
        exchange.headers["x-budget-downgraded-to"] = route.downgrade_to
        exchange.rewrite_body(model=route.downgrade_to)
    messages = exchange.body.get("messages")
    if messages is not None:
        exchange.max_output_tokens = max_output_tokens
        exchange.rewrite_body(
            removed=("max_completion_tokens",),
            max_tokens=max_output_tokens,
            messages=shorter_context(messages, KEPT_MESSAGES_WHEN_DOWNGRADED),
        )


def shorter_context(messages: list[dict[str, Any]], keep: int) -> list[dict[str, Any]]:
    """A leading system message and the last ``keep`` others, never opening on a tool result
    (whose assistant call would be cut off, which providers reject)."""
    system = [m for m in messages[:1] if m.get("role") in {"system", "developer"}]
    rest = messages[len(system) :]
    start = max(0, len(rest) - keep)
    while start > 0 and rest[start].get("role") == "tool":
        start -= 1
    return system + rest[start:]


async def settle_budget(exchange: Exchange, usage: Mapping[str, int] | None) -> None:
    """Replace the reservation with what the provider counted, or give it back without usage.

    Called once per exchange: by its producer when it called upstream (``call_upstream``),
    otherwise where the route's work ends (``Accounting``)."""
    budgets, reservation = exchange.gateway.budgets, exchange.reservation
    if budgets is None or reservation is None:
        return
    used = int((usage or {}).get("total_tokens", 0))
    if used:
        await budgets.settle(reservation, used_tokens=used)
    else:
        await budgets.release(reservation)


def account(exchange: Exchange, model: str, usage: Mapping[str, int] | None) -> None:
    """Tokens and cost of the upstream calls this exchange made."""
    if not usage:
        return
    route = exchange.gateway.config.route(model)
    price = route.price() if route is not None else None
    prompt, completion = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    exchange.gateway.metrics.usage(
        tenant=exchange.tenant.name,
        model=model,
        prompt_version=exchange.prompt_version,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost_usd=cost_usd(price, prompt_tokens=prompt, completion_tokens=completion),
    )
