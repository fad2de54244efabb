"""The request path shared by every route, pattern by pattern, in the order they act.

1. Budget: admit against the tenant's token plan (warn, downgrade the model, or 429).
2. Cache: a deterministic request's answer from Redis (``x-cache: hit``).
3. Coalescing: identical in-flight requests join one flight; its leader (``miss``) calls
   upstream, followers (``coalesced``) share the answer, streams included.
4. Limiter: the leader takes a tenant (and global) concurrency slot, or answers 429.
5. Resilience: deadline, retries, breakers and the fallback chain (``resilience``).
6. Structured output: a JSON-schema answer is validated, repaired once, or degraded.
7. Accounting: tokens and cost per tenant, model and prompt version; budget settlement;
   the answer is cached.
When the provider cannot answer, a route that can degrade gives a degraded answer; others
get a 503 with Retry-After. A pattern switched off in the config is skipped.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from aiohttp import web

from . import degraded
from .answer import Answer
from .budget import BudgetExhausted, BudgetLevel, BudgetPlan, Reservation
from .canonical import cache_key, is_deterministic, prompt_fingerprint
from .config import TenantConfig
from .errors import InvalidRequest
from .keys import GATEWAY, TENANT
from .limiter import OverCapacity
from .pricing import Price, cost_usd
from .privacy import request_log_fields
from .resilience import Failure, Result, UpstreamRequest, passed_headers
from .retry import Deadline
from .singleflight import Tap, Ticket
from .state import Gateway
from .structured import (
    UnsupportedSchema,
    answer_content,
    repair_messages,
    requested_schema,
    validator_for,
)


log = logging.getLogger(__name__)
access_log = logging.getLogger("reference_impl.access")
PROMPT_VERSION_HEADER = "x-prompt-version"
PROMPT_VERSION = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
LONGEST_WAIT_S = 300.0
LONGEST_DEADLINE_MS = 600_000


@dataclass(frozen=True, slots=True)
class Route:
    """What differs between endpoints."""

    name: str
    path: str
    can_degrade: bool


@dataclass(slots=True)
class Exchange:
    """One client request on its way through the patterns."""

    gateway: Gateway
    route: Route
    tenant: TenantConfig
    body: dict[str, Any]
    prompt_tokens: int
    max_output_tokens: int
    deadline: Deadline
    prompt_version: str
    idempotency_key: str
    raw: bytes | None = None
    """The client's body as sent, forwarded as is while the body is unchanged."""
    stream: bool = False
    opt_in_cache: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    cache: str = ""
    reservation: Reservation | None = None
    producing: bool = False
    """This exchange's flight calls upstream: the flight settles the reservation."""
    spent: bool = False
    """The reservation was settled or released."""
    started: float = field(default_factory=time.perf_counter)
    ticket: Ticket | None = None
    """The coalescing flight of a cacheable request; its role is the cache status."""

    def cache_status(self) -> str:
        """``hit``, ``miss``, ``coalesced``, or empty for a request that is not cacheable."""
        return self.ticket.role.value if self.ticket is not None else self.cache

    def fingerprint(self) -> str:
        """The salted hash of the prompt that logs carry instead of the prompt."""
        messages = self.body.get("messages", self.body.get("input"))
        return prompt_fingerprint(messages, salt=self.gateway.salts[self.tenant.name])

    @property
    def model(self) -> str:
        """The model asked for (after a budget downgrade)."""
        return str(self.body["model"])


def start_exchange(
    request: web.Request,
    route: Route,
    body: dict[str, Any],
    *,
    raw: bytes,
    prompt_tokens: int,
    max_output_tokens: int | None,
    stream: bool = False,
) -> Exchange:
    """Read the per-request options from the headers; bad ones are a 400."""
    gateway = request.app[GATEWAY]
    config = gateway.config
    tenant: TenantConfig = request[TENANT]
    version = request.headers.get(PROMPT_VERSION_HEADER, "default")
    if not PROMPT_VERSION.match(version):
        raise InvalidRequest(
            f"{PROMPT_VERSION_HEADER} must be 1-64 letters, digits, '.', '_' or '-'"
        )
    return Exchange(
        gateway=gateway,
        route=route,
        tenant=tenant,
        body=body,
        prompt_tokens=prompt_tokens,
        max_output_tokens=config.budgets.default_max_output_tokens
        if max_output_tokens is None
        else max_output_tokens,
        deadline=Deadline(_deadline_s(request, gateway)),
        prompt_version=version,
        idempotency_key=request.headers.get("Idempotency-Key") or uuid.uuid4().hex,
        raw=raw,
        stream=stream,
        opt_in_cache=request.headers.get(config.cache.opt_in_header) == "1",
    )


def _deadline_s(request: web.Request, gateway: Gateway) -> float | None:
    config = gateway.config.deadline
    if not config.enabled:
        return None
    asked = request.headers.get(config.header)
    if asked is None:
        return config.default_s
    try:
        millis = int(asked)
    except ValueError:
        millis = 0
    if not 1 <= millis <= LONGEST_DEADLINE_MS:
        raise InvalidRequest(
            f"{config.header} must be an integer of milliseconds, 1..{LONGEST_DEADLINE_MS}"
        )
    return millis / 1000


async def admit_budget(exchange: Exchange) -> Answer | None:
    """Reserve the request's tokens; a 429 answer when the tenant is past its ceiling."""
    gateway, tenant = exchange.gateway, exchange.tenant
    if gateway.budgets is None or tenant.budget is None:
        return None
    plan = BudgetPlan(**tenant.budget.model_dump())
    try:
        reservation = await gateway.budgets.admit(
            tenant.name,
            plan,
            prompt_tokens=exchange.prompt_tokens,
            max_output_tokens=exchange.max_output_tokens,
        )
    except BudgetExhausted as exc:
        gateway.metrics.budget(tenant=tenant.name, event="reject")
        log.warning("tenant %s is past its token ceiling (%d tokens)", tenant.name, exc.used_tokens)
        return budget_refusal(exc)
    exchange.reservation = reservation
    used_pct = round(100 * reservation.used_tokens / max(1, reservation.limit_tokens))
    if reservation.level is BudgetLevel.OK:
        return None
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


KEPT_MESSAGES_WHEN_DOWNGRADED = 6


def downgrade(exchange: Exchange, max_output_tokens: int) -> None:
    """Past the hard budget: the cheaper model, fewer output tokens, a shorter context."""
    route = exchange.gateway.config.route(exchange.model)
    body = exchange.body
    exchange.raw = None
    if route is not None and route.downgrade_to is not None:
        exchange.headers["x-budget-downgraded-to"] = route.downgrade_to
        body["model"] = route.downgrade_to
    if "messages" in body:
        body["max_tokens"] = max_output_tokens
        body.pop("max_completion_tokens", None)
        messages = body["messages"]
        system = [m for m in messages[:1] if m.get("role") in {"system", "developer"}]
        rest = messages[len(system) :]
        body["messages"] = system + rest[-KEPT_MESSAGES_WHEN_DOWNGRADED:]


async def settle_budget(exchange: Exchange, usage: Mapping[str, int] | None) -> None:
    """Replace the reservation with what the provider counted (idempotent)."""
    if exchange.spent or exchange.reservation is None or exchange.gateway.budgets is None:
        exchange.spent = True
        return
    exchange.spent = True
    used = int((usage or {}).get("total_tokens", 0))
    if used:
        await exchange.gateway.budgets.settle(exchange.reservation, used_tokens=used)
    else:
        await exchange.gateway.budgets.release(exchange.reservation)


Responder = Callable[[Answer], Awaitable[web.StreamResponse]]
FlightResponder = Callable[[Ticket], Awaitable[web.StreamResponse]]


async def handle(
    exchange: Exchange, *, whole: Responder, from_flight: FlightResponder
) -> web.StreamResponse:
    """Run the patterns for ``exchange`` and build the response with the route's responders."""
    status = 499
    try:
        refusal = await admit_budget(exchange)
        if refusal is not None:
            response = await whole(refusal)
        else:
            served = await serve(exchange)
            if isinstance(served, Answer):
                response = await whole(served)
            else:
                response = await from_flight(served)
        status = response.status
        return response
    finally:
        if not exchange.producing:
            await settle_budget(exchange, None)
        finished(exchange, status)


async def serve(exchange: Exchange) -> Answer | Ticket:
    """Steps 2-7: a cached or direct answer, or the ticket of the flight that produces one."""
    gateway = exchange.gateway
    key = _cache_key(exchange)
    wait_s = min(exchange.deadline.remaining_s(), LONGEST_WAIT_S)
    if key is not None and gateway.config.coalescing.enabled:
        slot = gateway.cache.slot(key) if gateway.cache is not None else None

        async def lead(tap: Tap) -> Answer:
            return await call_upstream(exchange, tap)

        exchange.ticket = await gateway.flights.join(key, lead, wait_s=wait_s, cache=slot)
        return exchange.ticket
    store = gateway.cache if key is not None else None
    if store is not None and key is not None:
        cached = await store.get(key)
        exchange.cache = "miss" if cached is None else "hit"
        if cached is not None:
            return cached

    async def produce(tap: Tap) -> Answer:
        answer = await call_upstream(exchange, tap)
        if store is not None and key is not None and answer.cacheable:
            await store.put(key, answer)
        return answer

    if exchange.stream:
        return await gateway.solo.join(uuid.uuid4().hex, produce, wait_s=wait_s)
    return await produce(NO_TAP)


def _cache_key(exchange: Exchange) -> str | None:
    """The request's cache key, if the cache or coalescing may act on it."""
    gateway = exchange.gateway
    if gateway.cache is None and not gateway.config.coalescing.enabled:
        return None
    if exchange.route.can_degrade and not is_deterministic(
        exchange.body, opt_in=exchange.opt_in_cache
    ):
        return None
    return cache_key(
        exchange.body,
        salt=gateway.salts[exchange.tenant.name],
        prompt_version=exchange.prompt_version,
        route=exchange.route.name,
    )


class _NoTap:
    """The tap of a call that does not stream: nothing is ever emitted into it."""

    async def emit(self, chunk: bytes) -> None:  # noqa: ARG002 - the Tap protocol
        """Unreachable: only streamed calls emit."""
        raise RuntimeError("a call that does not stream emitted a chunk")


NO_TAP = _NoTap()


async def call_upstream(exchange: Exchange, tap: Tap) -> Answer:
    """The producer: limiter, resilient call, structured check, accounting, settlement."""
    gateway = exchange.gateway
    exchange.producing = True
    try:
        slot = None
        if gateway.limiter is not None:
            cap = exchange.tenant.concurrency_cap or gateway.config.limiter.tenant_cap
            try:
                slot = await gateway.limiter.acquire(exchange.tenant.name, cap)
            except OverCapacity as exc:
                gateway.metrics.limiter(scope=exc.scope, event="rejected")
                return over_capacity(exc)
            gateway.metrics.limiter(scope="tenant", event="acquired")
        try:
            result, usage = await _answer_with_checks(exchange, tap)
        finally:
            if slot is not None:
                await slot.release()
        answer = final_answer(exchange, result)
        account(exchange, answer.model or exchange.model, usage)
        await settle_budget(exchange, usage)
        return answer
    finally:
        await settle_budget(exchange, None)


async def _answer_with_checks(exchange: Exchange, tap: Tap) -> tuple[Result, dict[str, int] | None]:
    """The resilient call, then the structured-output check with its repair attempts."""
    gateway = exchange.gateway
    first = _upstream_request(exchange, exchange.body, raw=exchange.raw)
    result = await gateway.resilience.call(first, tap)
    usage = _add_usage(None, result.usage)
    schema = requested_schema(exchange.body) if gateway.config.structured.enabled else None
    if (
        schema is None
        or exchange.stream
        or result.answer is None
        or result.answer.status != HTTPStatus.OK
    ):
        return result, usage
    try:
        validator = validator_for(schema)
    except UnsupportedSchema as exc:
        log.warning("structured output not validated: %s", exc)
        return result, usage
    answer = result.answer
    problems = validator.problems(answer_content(json.loads(answer.body)))
    repairs = 0
    while problems and repairs < gateway.config.structured.repair_attempts:
        repairs += 1
        bad = answer_content(json.loads(answer.body)) or ""
        repaired = {
            **exchange.body,
            "messages": repair_messages(
                exchange.body["messages"], bad_answer=bad, problems=problems
            ),
        }
        retry = await gateway.resilience.call(_upstream_request(exchange, repaired), tap)
        usage = _add_usage(usage, retry.usage)
        if retry.answer is None or retry.answer.status != HTTPStatus.OK:
            break
        answer = retry.answer
        problems = validator.problems(answer_content(json.loads(answer.body)))
    if not problems:
        gateway.metrics.structured(outcome="repaired" if repairs else "valid")
        return Result(answer=answer, usage=usage), usage
    gateway.metrics.structured(outcome="degraded")
    return Result(failure=Failure("invalid_structured_output")), usage


def _upstream_request(
    exchange: Exchange, body: Mapping[str, Any], *, raw: bytes | None = None
) -> UpstreamRequest:
    return UpstreamRequest(
        path=exchange.route.path,
        body=body,
        raw=raw,
        model=exchange.model,
        tenant=exchange.tenant.name,
        idempotency_key=exchange.idempotency_key,
        deadline=exchange.deadline,
        stream=exchange.stream,
    )


def _add_usage(
    total: dict[str, int] | None, more: Mapping[str, int] | None
) -> dict[str, int] | None:
    if not more:
        return total
    summed = dict(total or {})
    for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
        value = more.get(name)
        if isinstance(value, int):
            summed[name] = summed.get(name, 0) + value
    return summed


def final_answer(exchange: Exchange, result: Result) -> Answer:
    """The provider's answer, or what replaces it when there is none."""
    if result.answer is not None:
        return result.answer
    failure = result.failure or Failure("no_attempt")
    gateway = exchange.gateway
    config = gateway.config
    if result.emitted:
        return degraded.upstream_error(status=502, kind=failure.kind)
    if config.fallback.enabled and exchange.route.can_degrade:
        gateway.metrics.degraded(route=exchange.route.name, reason=failure.kind)
        return degraded.degraded_completion(
            model=exchange.model, banner=config.fallback.banner, reason=failure.kind
        )
    if failure.kind == "breaker_open" or (
        config.fallback.enabled and not exchange.route.can_degrade
    ):
        gateway.metrics.degraded(route=exchange.route.name, reason=failure.kind)
        return degraded.unavailable(reason=failure.kind, retry_after_s=config.breaker.open_s)
    if failure.status is not None:
        return Answer(
            status=failure.status, body=failure.body, headers=passed_headers(failure.headers)
        )
    status = 504 if failure.kind in {"timeout", "deadline"} else 502
    return degraded.upstream_error(status=status, kind=failure.kind)


def over_capacity(exc: OverCapacity) -> Answer:
    """The 429 of a tenant (or the gateway) at its concurrency cap."""
    body = {
        "error": {
            "message": f"too many requests in flight ({exc.scope} concurrency cap); retry shortly",
            "type": "rate_limit_error",
            "param": None,
            "code": f"{exc.scope}_concurrency_cap",
        }
    }
    retry = str(max(1, math.ceil(exc.retry_after_s)))
    return Answer(status=429, body=json.dumps(body).encode(), headers={"retry-after": retry})


def account(exchange: Exchange, model: str, usage: Mapping[str, int] | None) -> None:
    """Tokens and cost of the upstream calls this exchange made."""
    if not usage:
        return
    route = exchange.gateway.config.route(model)
    price = (
        Price(
            input_per_mtok_usd=route.input_per_mtok_usd,
            output_per_mtok_usd=route.output_per_mtok_usd,
        )
        if route is not None
        else None
    )
    prompt, completion = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    exchange.gateway.metrics.usage(
        tenant=exchange.tenant.name,
        model=model,
        prompt_version=exchange.prompt_version,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost_usd=cost_usd(price, prompt_tokens=prompt, completion_tokens=completion),
    )


def finished(exchange: Exchange, status: int) -> None:
    """Metrics and the access-log line (salted prompt hash, never the prompt)."""
    seconds = time.perf_counter() - exchange.started
    cache = exchange.cache_status()
    metrics = exchange.gateway.metrics
    if cache:
        metrics.cache(cache)
    metrics.request_finished(
        route=exchange.route.name,
        tenant=exchange.tenant.name,
        status=status,
        cache=cache or "none",
        seconds=seconds,
    )
    if access_log.isEnabledFor(logging.INFO):
        fields = request_log_fields(
            tenant=exchange.tenant.name,
            fingerprint=exchange.fingerprint(),
            model=exchange.model,
            status=status,
            cache=cache or "none",
            ms=seconds * 1000,
        )
        access_log.info(json.dumps(fields))


def answer_headers(exchange: Exchange, answer: Answer) -> dict[str, str]:
    """Headers of the client's response: the provider's, the cache's, the budget's."""
    headers = {**answer.headers, **exchange.headers}
    cache = exchange.cache_status()
    if cache:
        headers["x-cache"] = cache
    if answer.degraded:
        headers["x-degraded"] = "true"
    return headers


def json_answer(exchange: Exchange, answer: Answer) -> web.Response:
    """A whole answer as the JSON response."""
    return web.Response(
        status=answer.status,
        body=answer.body,
        content_type="application/json",
        headers=answer_headers(exchange, answer),
    )
