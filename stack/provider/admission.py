"""The path of every generation request once it is valid.

count it for its model -> injected error? -> rate limits (429) -> wait for a
slot of the deployment (FIFO) -> generate while holding the slot.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from stack.provider.config import ModelSpec
from stack.provider.errors import ApiError, RateLimitError, ServerError
from stack.provider.faults import FaultPlan
from stack.provider.keys import STATE, TICKET
from stack.provider.ratelimit import Rejection, go_duration
from stack.provider.state import Runtime


INJECTED_MESSAGES = {
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The server is overloaded or not ready yet.",
    504: "Gateway timeout.",
}


@dataclass(frozen=True, slots=True)
class Admission:
    """A request that holds a slot: its faults, the load it met, its rate-limit headers."""

    plan: FaultPlan
    load: float
    headers: Mapping[str, str]


@asynccontextmanager
async def admitted(
    request: web.Request, runtime: Runtime, spec: ModelSpec, *, api_key: str, tokens: int
) -> AsyncIterator[Admission]:
    """Admit a request costing ``tokens`` (TPM estimate) and hold a slot for it."""
    state = request.app[STATE]
    request[TICKET].set_model(spec.name)
    plan = state.faults.plan(spec.name)
    if plan.error_status is not None:
        raise injected_error(plan, spec.name)
    decision = runtime.limiter.admit(api_key, spec, tokens=tokens)
    if decision.rejection is not None:
        raise rate_limited(decision.rejection, spec.name, decision.headers)
    async with runtime.deployments[spec.name].slot() as load:
        yield Admission(plan, load, decision.headers)


def injected_error(plan: FaultPlan, model: str) -> ApiError:
    """The error response of an injected fault."""
    status = plan.error_status or 500
    if status != RateLimitError.status:
        return ServerError(status, INJECTED_MESSAGES[status])
    return RateLimitError(
        f"Rate limit reached for {model}. Please try again in {go_duration(plan.retry_after_s)}.",
        code="rate_limit_exceeded",
        headers={
            "retry-after": str(math.ceil(plan.retry_after_s)),
            "retry-after-ms": str(math.ceil(plan.retry_after_s * 1000)),
        },
    )


def rate_limited(rejection: Rejection, model: str, headers: Mapping[str, str]) -> RateLimitError:
    """The 429 of a rate-limit rejection, worded like OpenAI's."""
    unit = "requests per min (RPM)" if rejection.kind == "requests" else "tokens per min (TPM)"
    where = "in organization org-meltproof" if rejection.scope == "key" else "on this deployment"
    if rejection.requested > rejection.limit:
        message = (
            f"Request too large for {model} {where} on {unit}: Limit {rejection.limit}, "
            f"Requested {rejection.requested}. "
            "The input or output tokens must be reduced in order to run successfully."
        )
    else:
        message = (
            f"Rate limit reached for {model} {where} on {unit}: Limit {rejection.limit}, "
            f"Used {rejection.used}, Requested {rejection.requested}. "
            f"Please try again in {go_duration(rejection.retry_after_s)}."
        )
    return RateLimitError(
        message, code="rate_limit_exceeded", error_type=rejection.kind, headers=headers
    )
