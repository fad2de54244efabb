"""The request path shared by every route, pattern by pattern, in the order they act.

1. Budget: admit against the tenant's token plan (warn, downgrade the model, or 429).
2. Cache and coalescing: a deterministic request whose answer this worker keeps in memory
   is a hit at once; otherwise it joins the flight for its cache key. The flight's first look
   at Redis reads the cache (``x-cache: hit``); otherwise its leader (``miss``) calls upstream
   and followers (``coalesced``) share the answer, streams included. A flight runs on the
   configured deadline, not on a per-request one, so that one impatient caller cannot degrade
   the answer of everyone who joined it. With coalescing off, the cache is read and written
   around the request's own call.
3. Limiter: whoever calls upstream takes a tenant (and global) slot, or answers 429; a slot
   shared through Redis is given back in the background, so the answer does not wait for it.
4. Resilience: deadline, retries, breakers and the fallback chain (``resilience``).
5. Structured output: a JSON-schema answer is validated, repaired once, or degraded.
6. Accounting: tokens and cost per tenant, model and prompt version; budget settlement.
When the provider cannot answer, a route that can degrade gives a degraded answer; others
get a 503 with Retry-After. A pattern switched off in the config is skipped.

A request that is not coalesced calls upstream in its own task: a client that goes away
cancels its call. A flight's call belongs to the flight and runs to its end (its answer is
cached for the next request).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aiohttp import web

from . import degraded
from .answer import Answer
from .canonical import cache_key, is_deterministic
from .exchange import Exchange, finished
from .limiter import OverCapacity
from .resilience import Failure, Result, UpstreamRequest, passed_headers
from .retry import Deadline
from .singleflight import Role, Tap, Ticket
from .spending import account, admit_budget, settle_budget
from .structured import (
    UnsupportedSchema,
    answer_content,
    repair_messages,
    requested_schema,
    validator_for,
)
from .tracing import NO_SPAN, Attr, SpanName


log = logging.getLogger(__name__)
LONGEST_WAIT_S = 300.0
"""How long a follower waits for a flight whose leader is alive (its lock kept)."""


async def handle(exchange: Exchange, tap: Tap) -> Answer | Ticket:
    """Steps 1-6 for ``exchange``: a budget refusal, a cached or direct answer, or the ticket
    of the flight that produces one (``flight_answer``). The route turns it into a response
    inside ``Accounting``. ``tap`` receives the events of a stream this request calls for
    itself."""
    refusal = await admit_budget(exchange)
    return refusal if refusal is not None else await serve(exchange, tap)


async def flight_answer(exchange: Exchange, ticket: Ticket, events: Tap | None) -> Answer:
    """The answer of the flight ``ticket`` joined; ``events`` gets a streamed flight's events
    as they come. A follower's wait is the request's coalesce span."""
    follower = ticket.role is Role.FOLLOWER
    with exchange.gateway.tracing.span(SpanName.COALESCE) if follower else NO_SPAN:
        if events is not None:
            async for event in ticket.chunks():
                await events.emit(event)
        return await ticket.answer()


@dataclass
class Outcome:
    """What a request ended as: 499 (the client went away) until the route says otherwise."""

    status: int = 499

    def responded(self, exchange: Exchange, response: web.StreamResponse) -> None:
        """The response sent, or the status of a stream cut midway (``exchange.status``)."""
        self.status = exchange.status or response.status


class Accounting:
    """Around a route's work on ``exchange``: at its end, however it ends, a budget
    reservation that no upstream call took over is released, the request's metrics and
    access-log line are recorded with the outcome's status and (``annotate``) the request's
    span gets its tenant, model, status and cache.

    A class rather than ``asynccontextmanager``: every request enters it, and a generator's
    context manager costs several calls more."""

    def __init__(self, exchange: Exchange, *, annotate: bool = True) -> None:
        self._exchange = exchange
        self._annotate = annotate
        self._outcome = Outcome()

    async def __aenter__(self) -> Outcome:
        return self._outcome

    async def __aexit__(self, *_exc: object) -> None:
        exchange, status = self._exchange, self._outcome.status
        if not exchange.producing:
            await settle_budget(exchange, None)
        finished(exchange, status)
        if self._annotate:
            exchange.gateway.tracing.annotate(
                tenant=exchange.tenant.name,
                model=exchange.model,
                status=status,
                cache=exchange.cache_status(),
                fingerprint=exchange.fingerprint,
            )


class _NoEvents:
    """The tap of a call that does not stream."""

    async def emit(self, chunk: bytes) -> None:  # noqa: ARG002 - the Tap protocol
        """Unreachable: only streamed calls emit."""
        raise RuntimeError("a call that does not stream emitted an event")


NO_EVENTS = _NoEvents()


async def complete(exchange: Exchange) -> Answer:
    """Run the patterns for an exchange the gateway makes itself (never streamed): the
    answer, a budget refusal, or what replaces a failed call."""
    async with Accounting(exchange, annotate=False) as outcome:
        served = await handle(exchange, NO_EVENTS)
        answer = served if isinstance(served, Answer) else await served.answer()
        outcome.status = answer.status
    return answer


async def serve(exchange: Exchange, tap: Tap) -> Answer | Ticket:
    """Steps 2-6: a cached or direct answer, or the ticket of the flight that produces one."""
    gateway = exchange.gateway
    key = _cache_key(exchange)
    if key is not None and gateway.cache is not None:
        kept = gateway.cache.recent(key)
        if kept is not None:
            exchange.cache = "hit"
            with gateway.tracing.span(SpanName.CACHE) as span:
                span.set(Attr.CACHE, "hit")
            return kept
    if key is not None and gateway.config.coalescing.enabled:
        slot = gateway.cache.slot(key) if gateway.cache is not None else None
        deadline_s = gateway.config.deadline.default_s if gateway.config.deadline.enabled else None

        async def lead(flight_tap: Tap) -> Answer:
            return await call_upstream(exchange, flight_tap, Deadline(deadline_s))

        with gateway.tracing.span(SpanName.CACHE) as span:
            exchange.ticket = await gateway.flights.join(
                key, lead, wait_s=LONGEST_WAIT_S, cache=slot
            )
            span.set(Attr.CACHE, exchange.ticket.role.value)
        return exchange.ticket
    store = gateway.cache if key is not None else None
    if store is not None and key is not None:
        with gateway.tracing.span(SpanName.CACHE) as span:
            cached = await store.get(key)
            exchange.cache = "miss" if cached is None else "hit"
            span.set(Attr.CACHE, exchange.cache)
        if cached is not None:
            return cached
    answer = await call_upstream(exchange, tap, exchange.deadline())
    if store is not None and key is not None and answer.cacheable:
        await store.put(key, answer)
    return answer


def _cache_key(exchange: Exchange) -> str | None:
    """The request's cache key, if the cache or coalescing may act on it."""
    gateway = exchange.gateway
    if gateway.cache is None and not gateway.config.coalescing.enabled:
        return None
    if exchange.route.sampled and not is_deterministic(exchange.body, opt_in=exchange.opt_in_cache):
        return None
    salt, version, route = (
        gateway.salts[exchange.tenant.name],
        exchange.prompt_version,
        exchange.route,
    )
    if exchange.raw is not None:  # the body as sent, unchanged
        return gateway.cache_keys.cache_key(
            exchange.raw, exchange.body, salt=salt, prompt_version=version, route=route.name
        )
    return cache_key(exchange.body, salt=salt, prompt_version=version, route=route.name)


async def call_upstream(exchange: Exchange, tap: Tap, deadline: Deadline) -> Answer:
    """The producer: limiter, resilient call, structured check, accounting, and the budget
    settled once, however the call ends (with the usage counted, if any)."""
    gateway = exchange.gateway
    exchange.producing = True
    usage: dict[str, int] | None = None
    try:
        slot = None
        if gateway.limiter is not None:
            cap = exchange.tenant.concurrency_cap or gateway.config.limiter.tenant_cap
            with gateway.tracing.span(SpanName.LIMITER) as span:
                try:
                    slot = await gateway.limiter.acquire(exchange.tenant.name, cap)
                except OverCapacity as exc:
                    span.set(Attr.OUTCOME, "rejected")
                    gateway.metrics.limiter(scope=exc.scope, event="rejected")
                    return over_capacity(exc)
                event = "local_fallback" if slot.scope_used == "local" else "acquired"
                span.set(Attr.OUTCOME, event)
            gateway.metrics.limiter(scope="tenant", event=event)
        try:
            outcome, usage = await _answer_with_checks(exchange, tap, deadline)
        finally:
            if slot is not None and slot.scope_used == "redis":
                gateway.background.run(slot.release())
            elif slot is not None:
                await slot.release()  # the slot table's: no round trip
        answer = final_answer(exchange, outcome)
        account(exchange, answer.model or exchange.model, usage)
        return answer
    finally:
        await settle_budget(exchange, usage)


async def _answer_with_checks(
    exchange: Exchange, tap: Tap, deadline: Deadline
) -> tuple[Result | Failure, dict[str, int] | None]:
    """The resilient call, then the structured-output check with its repair attempts."""
    gateway = exchange.gateway
    first = _upstream_request(exchange, exchange.body, deadline, raw=exchange.raw)
    outcome = await gateway.resilience.call(first, tap)
    if isinstance(outcome, Failure):
        return outcome, None
    usage = _add_usage(None, outcome.usage)
    schema = None
    if gateway.config.structured.enabled and exchange.route.kind == "chat" and not exchange.stream:
        schema = requested_schema(exchange.body)
    if schema is None or outcome.answer.status != HTTPStatus.OK:
        return outcome, usage
    try:
        validator = validator_for(schema)
    except UnsupportedSchema as exc:
        log.warning("structured output not validated: %s", exc)
        return outcome, usage
    answer = outcome.answer
    problems = validator.problems(answer_content(json.loads(answer.body)))
    repairs = 0
    while problems and repairs < gateway.config.structured.repair_attempts:
        repairs += 1
        bad = answer_content(json.loads(answer.body)) or ""
        messages = repair_messages(exchange.body["messages"], bad_answer=bad, problems=problems)
        repaired = {**exchange.body, "messages": messages}
        request = _upstream_request(
            exchange, repaired, deadline, attempt_key=f"{exchange.upstream_key()}-repair{repairs}"
        )
        retry = await gateway.resilience.call(request, tap)
        if isinstance(retry, Failure):
            break
        usage = _add_usage(usage, retry.usage)
        if retry.answer.status != HTTPStatus.OK:
            break
        answer = retry.answer
        problems = validator.problems(answer_content(json.loads(answer.body)))
    if not problems:
        gateway.metrics.structured(outcome="repaired" if repairs else "valid")
        return Result(answer=answer, usage=usage), usage
    gateway.metrics.structured(outcome="degraded")
    return Failure("invalid_structured_output"), usage


def _upstream_request(
    exchange: Exchange,
    body: Mapping[str, Any],
    deadline: Deadline,
    *,
    raw: bytes | None = None,
    attempt_key: str | None = None,
) -> UpstreamRequest:
    return UpstreamRequest(
        path=exchange.route.path,
        body=body,
        raw=raw,
        model=exchange.model,
        tenant=exchange.tenant.name,
        idempotency_key=attempt_key or exchange.upstream_key(),
        deadline=deadline,
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


def final_answer(exchange: Exchange, outcome: Result | Failure) -> Answer:
    """The provider's answer, or what replaces it when there is none."""
    if isinstance(outcome, Result):
        return outcome.answer
    failure = outcome
    gateway = exchange.gateway
    config = gateway.config
    if failure.emitted:
        return degraded.upstream_error(status=502, kind=failure.kind)
    if config.fallback.enabled and exchange.route.can_degrade:
        with gateway.tracing.span(SpanName.DEGRADED) as span:
            span.set(Attr.DEGRADED_REASON, failure.kind)
        gateway.metrics.degraded(route=exchange.route.name, reason=failure.kind)
        return degraded.degraded_completion(
            model=exchange.model, banner=config.fallback.banner, reason=failure.kind
        )
    if failure.kind == "breaker_open" or config.fallback.enabled:
        with gateway.tracing.span(SpanName.DEGRADED) as span:
            span.set(Attr.DEGRADED_REASON, failure.kind)
        gateway.metrics.degraded(route=exchange.route.name, reason=failure.kind)
        return degraded.unavailable(
            reason=failure.kind, retry_after_s=gateway.resilience.retry_after_s(exchange.model)
        )
    if failure.status is not None:
        headers = passed_headers(failure.headers)
        return Answer(status=failure.status, body=failure.body, headers=headers)
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
