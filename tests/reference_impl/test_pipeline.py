"""The request pipeline's decisions: cache, coalescing, limiter, budgets, settlement.

The collaborators are the real ones on a fake Redis (response cache, single-flight with its
notifier, token budgets), except the upstream call path, a scripted stand-in for
``Resilience`` that records each call, and the limiter, a stand-in that refuses when told and
counts the slots held (the limiter's own tests cover how it decides). Every request goes
through ``pipeline.handle`` and is answered as JSON, as the embeddings route does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from fakeredis import FakeServer
from fakeredis.aioredis import FakeRedis
from metric_reports_support import Reports

from reference_impl.answer import Answer
from reference_impl.background import Background
from reference_impl.budget import BudgetPlan, Reservation, TokenBudgets
from reference_impl.cache import ResponseCache
from reference_impl.chat import CHAT
from reference_impl.config import GatewayConfig, load_config
from reference_impl.embeddings import EMBEDDINGS
from reference_impl.exchange import Exchange, Route, json_answer
from reference_impl.limiter import OverCapacity, Slot
from reference_impl.notify import Notifier
from reference_impl.pipeline import NO_EVENTS, Accounting, final_answer, flight_answer, handle
from reference_impl.privacy import PromptStore
from reference_impl.redis_link import RedisLink
from reference_impl.resilience import ClientGoneError, Failure, Result, UpstreamRequest
from reference_impl.singleflight import SingleFlight, Ticket
from reference_impl.state import Gateway


KEY = "sk-test-pipeline"
USAGE = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
PROMPT_TOKENS, MAX_OUTPUT_TOKENS = 10, 16
RESERVED = PROMPT_TOKENS + MAX_OUTPUT_TOKENS
GUARD_S = 10.0  # only stops a hung test early; no assertion depends on time


def completion(model: str = "gpt-4o-mini", content: str = "ok") -> bytes:
    message = {"role": "assistant", "content": content}
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": USAGE,
    }
    return json.dumps(body).encode()


def answered(model: str = "gpt-4o-mini", content: str = "ok") -> Result:
    return Result(answer=Answer(200, completion(model, content), model=model), usage=USAGE)


FAILED = Failure("http_5xx", status=503, body=b'{"error":{"message":"down"}}')


class Upstream:
    """Stands in for ``Resilience``: records each call's request and answers from a script
    (the last outcome repeats; an exception is raised). ``hold`` keeps calls waiting."""

    def __init__(self) -> None:
        self.requests: list[UpstreamRequest] = []
        self.outcomes: list[Result | Failure | BaseException] = [answered()]
        self.called = asyncio.Event()
        self._open = asyncio.Event()
        self._open.set()

    def script(self, *outcomes: Result | Failure | BaseException) -> None:
        self.outcomes = list(outcomes)

    def hold(self) -> None:
        self._open.clear()

    def let_go(self) -> None:
        self._open.set()

    async def call(self, request: UpstreamRequest, tap: Any) -> Result | Failure:  # noqa: ARG002
        self.requests.append(request)
        self.called.set()
        await self._open.wait()
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def retry_after_s(self, model: str) -> float:  # noqa: ARG002
        return 7.0


class Limiter:
    """Stands in for ``ConcurrencyLimiter``: raises ``refusal`` when set, else hands out a
    slot; ``held`` counts the slots not given back."""

    def __init__(self) -> None:
        self.refusal: OverCapacity | None = None
        self.asked: list[tuple[str, int | None]] = []
        self.held = 0

    async def acquire(self, tenant: str, cap: int | None) -> Slot:
        self.asked.append((tenant, cap))
        if self.refusal is not None:
            raise self.refusal
        self.held += 1
        return CountedSlot(self)


class CountedSlot(Slot):
    scope_used = "redis"

    def __init__(self, limiter: Limiter) -> None:
        super().__init__()
        self._limiter = limiter

    async def _give_back(self) -> None:
        self._limiter.held -= 1


class CountedBudgets(TokenBudgets):
    """Token budgets that keep every settlement (the tokens settled, 0 for a release) and
    set ``settled`` once one is written."""

    def __init__(self, link: RedisLink) -> None:
        super().__init__(link)
        self.settlements: list[int] = []
        self.settled = asyncio.Event()

    async def settle(self, reservation: Reservation, *, used_tokens: int) -> None:
        self.settlements.append(used_tokens)
        await super().settle(reservation, used_tokens=used_tokens)
        self.settled.set()

    async def release(self, reservation: Reservation) -> None:
        self.settlements.append(0)
        await super().release(reservation)
        self.settled.set()


@dataclass
class Bench:
    """A gateway with the patterns asked for, on one fake Redis, and its stand-ins."""

    gateway: Gateway
    upstream: Upstream
    reports: Reports
    budgets: CountedBudgets | None
    limiter: Limiter | None

    @property
    def plan(self) -> BudgetPlan:
        tenant = self.gateway.config.tenants[0]
        assert tenant.budget is not None
        return BudgetPlan(**tenant.budget.model_dump())

    def exchange(
        self,
        *,
        route: Route = CHAT,
        temperature: float = 0,
        deadline_s: float | None = None,
        **body: Any,
    ) -> Exchange:
        if route is CHAT:
            messages = [{"role": "user", "content": "hi"}]
            body = {
                "model": "gpt-4o-mini",
                "messages": messages,
                "temperature": temperature,
                **body,
            }
        else:
            body = {"model": "text-embedding-3-small", "input": "hi", **body}
        return Exchange(
            gateway=self.gateway,
            route=route,
            tenant=self.gateway.config.tenants[0],
            body=body,
            raw=None,
            prompt_tokens=PROMPT_TOKENS,
            max_output_tokens=MAX_OUTPUT_TOKENS,
            deadline_s=deadline_s,
            prompt_version="v1",
            idempotency_key="idem-1",
        )

    async def handle(
        self, exchange: Exchange, *, joined: asyncio.Event | None = None
    ) -> web.Response:
        """The request through every pattern, answered as JSON; ``joined`` is set once the
        request has its flight's ticket."""

        async with asyncio.timeout(GUARD_S), Accounting(exchange) as outcome:
            served = await handle(exchange, NO_EVENTS)
            if isinstance(served, Ticket):
                if joined is not None:
                    joined.set()
                served = await flight_answer(exchange, served, None)
            response = json_answer(exchange, served)
            outcome.responded(exchange, response)
        return response

    async def request(self, **options: Any) -> web.Response:
        return await self.handle(self.exchange(**options))

    async def settled_and_reserved(self) -> tuple[int, int]:
        """The tenant's settled and live reserved tokens, once the background work is done."""
        await self.gateway.background.drain(GUARD_S)
        assert self.budgets is not None
        return await self.budgets.usage("one", self.plan)

    async def leader_and_follower(self, **options: Any) -> list[web.Response]:
        """Two identical requests, the second joining while the first one's call is open."""
        self.upstream.hold()
        leader = asyncio.create_task(self.request(**options))
        await self.upstream.called.wait()
        joined = asyncio.Event()
        follower = asyncio.create_task(self.handle(self.exchange(**options), joined=joined))
        async with asyncio.timeout(GUARD_S):
            await joined.wait()
        self.upstream.let_go()
        return list(await asyncio.gather(leader, follower))

    def finished_statuses(self) -> list[int]:
        return [labels["status"] for labels in self.reports.of("request_finished")]


MakeBench = Callable[..., Awaitable[Bench]]


@pytest.fixture
async def make_bench(server: FakeServer) -> AsyncIterator[MakeBench]:
    """``make_bench(*patterns, tenant=...)``: a gateway with only those patterns on (the rest
    off, as in the naive profile), for a tenant ``one`` with the given settings."""
    started: list[tuple[Gateway, FakeRedis]] = []

    async def make(*patterns: str, tenant: dict[str, Any] | None = None) -> Bench:
        config = gateway_config(patterns, tenant or {})
        client = FakeRedis(server=server)
        link = RedisLink(client, timeout_s=1.0)
        notifier = None
        if config.coalescing.enabled:
            notifier = Notifier(client, reconnect_s=0.05)
            await notifier.start()
        budgets = CountedBudgets(link) if config.budgets.enabled else None
        concurrency = Limiter() if config.limiter.enabled else None
        upstream, reports = Upstream(), Reports()
        gateway = Gateway(
            config=config,
            tenants_by_key={t.api_key.get_secret_value(): t for t in config.tenants},
            salts={t.name: t.salt() for t in config.tenants},
            session=None,  # type: ignore[arg-type]  # the stand-in upstream needs none
            metrics=reports,  # type: ignore[arg-type]
            link=link,
            notifier=notifier,
            cache=ResponseCache(link) if config.cache.enabled else None,
            flights=SingleFlight(link, notifier),
            resilience=upstream,  # type: ignore[arg-type]
            limiter=concurrency,  # type: ignore[arg-type]
            budgets=budgets,
            prompts=PromptStore(None, consenting=frozenset()),
            background=Background(),
            pools=None,
        )
        started.append((gateway, client))
        return Bench(gateway, upstream, reports, budgets, concurrency)

    yield make
    for gateway, client in started:
        await gateway.flights.close()
        await gateway.background.drain(GUARD_S)
        if gateway.notifier is not None:
            await gateway.notifier.stop()
        await client.aclose()


def gateway_config(patterns: tuple[str, ...], tenant: dict[str, Any]) -> GatewayConfig:
    overrides = {
        "provider_url": "http://127.0.0.1:9/v1",
        "profile": "naive",
        "tenants": [{"name": "one", "api_key": KEY, **tenant}],
    }
    return load_config(None, overrides=overrides, enable=patterns, environ={})


def error_of(response: web.Response) -> dict[str, Any]:
    assert response.body is not None
    return json.loads(response.body)["error"]


def body_of(response: web.Response) -> dict[str, Any]:
    assert response.body is not None
    return json.loads(response.body)


BUDGETED = {"budget": {"limit_tokens": 1000}}
CACHING = [("cache",), ("cache", "coalescing")]
CACHING_IDS = ["cache", "cache+coalescing"]


# Cache and coalescing


@pytest.mark.parametrize("patterns", CACHING, ids=CACHING_IDS)
async def test_a_cache_hit_does_not_call_upstream(make_bench: MakeBench, patterns):
    bench = await make_bench(*patterns)
    first = await bench.request()
    second = await bench.request()
    assert len(bench.upstream.requests) == 1
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
    assert second.body == first.body == completion()


@pytest.mark.parametrize("patterns", CACHING, ids=CACHING_IDS)
async def test_a_worker_answers_a_repeated_request_from_memory_without_redis(
    make_bench: MakeBench, server: FakeServer, patterns
):
    bench = await make_bench(*patterns)
    first = await bench.request()
    server.connected = False
    second = await bench.request()
    assert len(bench.upstream.requests) == 1
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
    assert second.body == first.body


@pytest.mark.parametrize("patterns", CACHING, ids=CACHING_IDS)
async def test_a_worker_keeps_the_answer_another_worker_cached(
    make_bench: MakeBench, server: FakeServer, patterns
):
    one, two = await make_bench(*patterns), await make_bench(*patterns)
    await one.request()
    from_redis = await two.request()
    server.connected = False
    from_memory = await two.request()
    assert [r.headers["x-cache"] for r in (from_redis, from_memory)] == ["hit", "hit"]
    assert (len(one.upstream.requests), len(two.upstream.requests)) == (1, 0)


@pytest.mark.parametrize("patterns", CACHING, ids=CACHING_IDS)
async def test_a_sampled_request_is_neither_cached_nor_served_from_the_cache(
    make_bench: MakeBench, patterns
):
    bench = await make_bench(*patterns)
    await bench.request(temperature=0)
    sampled = await bench.request(temperature=0.7)
    await bench.request(temperature=0.7)
    assert len(bench.upstream.requests) == 3
    assert "x-cache" not in sampled.headers


async def test_a_follower_gets_the_leaders_answer_from_one_call(make_bench: MakeBench):
    bench = await make_bench("coalescing")
    responses = await bench.leader_and_follower()
    assert len(bench.upstream.requests) == 1
    assert [r.headers["x-cache"] for r in responses] == ["miss", "coalesced"]
    assert responses[1].body == responses[0].body == completion()


async def test_followers_share_a_failure_answer_without_calling_again(make_bench: MakeBench):
    bench = await make_bench("coalescing")
    bench.upstream.script(FAILED)
    responses = await bench.leader_and_follower(route=EMBEDDINGS)
    assert len(bench.upstream.requests) == 1
    assert [r.status for r in responses] == [503, 503]


async def test_a_flight_runs_on_the_configured_deadline_not_the_callers(make_bench: MakeBench):
    bench = await make_bench("coalescing", "deadline")
    await bench.request(temperature=0, deadline_s=0.2)
    await bench.request(temperature=0.7, deadline_s=0.2)
    coalesced, own = (request.deadline for request in bench.upstream.requests)
    assert coalesced.budget_s == bench.gateway.config.deadline.default_s
    assert own.budget_s is not None
    assert own.budget_s <= 0.2


# Degraded and error answers


@pytest.mark.parametrize("patterns", CACHING, ids=CACHING_IDS)
async def test_a_degraded_answer_is_never_cached(make_bench: MakeBench, patterns):
    bench = await make_bench("fallback", *patterns)
    bench.upstream.script(FAILED, answered())
    degraded = await bench.request()
    assert degraded.status == 200
    assert degraded.headers["x-degraded"] == "true"
    assert body_of(degraded)["degraded"] is True
    fresh = await bench.request()
    assert len(bench.upstream.requests) == 2
    assert fresh.headers["x-cache"] == "miss"
    assert "x-degraded" not in fresh.headers


@pytest.mark.parametrize("patterns", CACHING, ids=CACHING_IDS)
async def test_an_error_answer_is_never_cached(make_bench: MakeBench, patterns):
    bench = await make_bench(*patterns)
    bench.upstream.script(FAILED, answered())
    failed = await bench.request()
    assert failed.status == 503
    fresh = await bench.request()
    assert len(bench.upstream.requests) == 2
    assert (fresh.status, fresh.headers["x-cache"]) == (200, "miss")


# Limiter


@pytest.mark.parametrize("scope", ["tenant", "global"])
async def test_over_a_concurrency_cap_is_a_429_with_retry_after_and_no_call(
    make_bench: MakeBench, scope: str
):
    bench = await make_bench("limiter", "budgets", tenant=BUDGETED)
    assert bench.limiter is not None
    bench.limiter.refusal = OverCapacity(scope, retry_after_s=2.5)  # type: ignore[arg-type]
    response = await bench.request()
    assert bench.upstream.requests == []
    assert response.status == 429
    assert response.headers["retry-after"] == "3"
    error = error_of(response)
    assert error["type"] == "rate_limit_error"
    assert error["code"] == f"{scope}_concurrency_cap"
    assert f"{scope} concurrency cap" in error["message"]
    assert bench.reports.count("limiter", scope=scope, event="rejected") == 1
    assert bench.budgets is not None
    assert bench.budgets.settlements == [0]


@pytest.mark.parametrize("cap", [3, None], ids=["tenant's", "default"])
async def test_the_slot_is_asked_under_the_tenants_cap_or_the_default(
    make_bench: MakeBench, cap: int | None
):
    bench = await make_bench("limiter", tenant={"concurrency_cap": cap})
    await bench.request()
    assert bench.limiter is not None
    assert bench.limiter.asked == [("one", cap or bench.gateway.config.limiter.tenant_cap)]


@pytest.mark.parametrize(
    "outcome", [answered(), FAILED, ClientGoneError("gone")], ids=["answer", "failure", "gone"]
)
async def test_the_limiter_slot_is_given_back_after_the_call(
    make_bench: MakeBench, outcome: Result | Failure | BaseException
):
    bench = await make_bench("limiter")
    bench.upstream.script(outcome)
    with contextlib.suppress(ClientGoneError):
        await bench.request()
    await bench.gateway.background.drain(GUARD_S)
    assert bench.limiter is not None
    assert bench.limiter.asked != []
    assert bench.limiter.held == 0


# Budgets and settlement


async def test_a_tenant_past_its_ceiling_gets_a_429_naming_it_and_no_call(make_bench: MakeBench):
    bench = await make_bench("budgets", tenant=BUDGETED)
    assert bench.budgets is not None
    spent = await bench.budgets.admit("one", bench.plan, prompt_tokens=0, max_output_tokens=0)
    await bench.budgets.settle(spent, used_tokens=1200)
    response = await bench.request()
    assert bench.upstream.requests == []
    assert response.status == 429
    assert int(response.headers["retry-after"]) >= 1
    error = error_of(response)
    assert error["code"] == "token_budget_exhausted"
    assert error["type"] == "insufficient_quota"
    assert error["message"] == (
        "tenant one has used 1200 tokens, past its ceiling of 1200 for this period"
    )


async def test_an_answer_settles_its_usage_once(make_bench: MakeBench):
    bench = await make_bench("budgets", tenant=BUDGETED)
    response = await bench.request()
    assert response.status == 200
    assert bench.budgets is not None
    assert bench.budgets.settlements == [7]
    assert await bench.settled_and_reserved() == (7, 0)


@pytest.mark.parametrize(
    ("patterns", "route", "status"),
    [((), CHAT, 503), (("fallback",), CHAT, 200), (("fallback",), EMBEDDINGS, 503)],
    ids=["error", "degraded", "unavailable"],
)
async def test_a_failed_call_releases_its_reservation_once(
    make_bench: MakeBench, patterns, route: Route, status: int
):
    bench = await make_bench("budgets", *patterns, tenant=BUDGETED)
    bench.upstream.script(FAILED)
    response = await bench.request(route=route)
    assert response.status == status
    assert bench.budgets is not None
    assert bench.budgets.settlements == [0]
    assert await bench.settled_and_reserved() == (0, 0)


async def test_a_client_gone_mid_stream_releases_once_and_is_a_499(make_bench: MakeBench):
    bench = await make_bench("budgets", tenant=BUDGETED)
    bench.upstream.script(ClientGoneError("gone"))
    with pytest.raises(ClientGoneError):
        await bench.request()
    assert bench.budgets is not None
    assert bench.budgets.settlements == [0]
    assert await bench.settled_and_reserved() == (0, 0)
    assert bench.finished_statuses() == [499]


async def test_a_client_that_leaves_cancels_its_call_and_releases_once(make_bench: MakeBench):
    bench = await make_bench("budgets", tenant=BUDGETED)
    bench.upstream.hold()
    request = asyncio.create_task(bench.request())
    await bench.upstream.called.wait()
    assert await bench.settled_and_reserved() == (0, RESERVED)
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    assert bench.budgets is not None
    assert bench.budgets.settlements == [0]
    assert await bench.settled_and_reserved() == (0, 0)
    assert bench.finished_statuses() == [499]


@pytest.mark.parametrize("patterns", CACHING, ids=CACHING_IDS)
async def test_a_cache_hit_releases_its_reservation_once(make_bench: MakeBench, patterns):
    bench = await make_bench("budgets", *patterns, tenant=BUDGETED)
    await bench.request()
    await bench.request()
    assert bench.budgets is not None
    assert bench.budgets.settlements == [7, 0]
    assert await bench.settled_and_reserved() == (7, 0)


async def test_a_leader_settles_its_usage_and_a_follower_releases(make_bench: MakeBench):
    bench = await make_bench("budgets", "coalescing", tenant=BUDGETED)
    responses = await bench.leader_and_follower()
    assert [r.headers["x-cache"] for r in responses] == ["miss", "coalesced"]
    assert bench.budgets is not None
    assert sorted(bench.budgets.settlements) == [0, 7]
    assert await bench.settled_and_reserved() == (7, 0)


async def test_a_flight_whose_leader_left_still_settles_its_usage(make_bench: MakeBench):
    bench = await make_bench("budgets", "coalescing", tenant=BUDGETED)
    bench.upstream.hold()
    leader = asyncio.create_task(bench.request())
    await bench.upstream.called.wait()
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert bench.budgets is not None
    assert bench.budgets.settlements == []
    bench.upstream.let_go()
    async with asyncio.timeout(GUARD_S):
        await bench.budgets.settled.wait()  # the flight ran to its end
    assert bench.budgets.settlements == [7]
    assert await bench.settled_and_reserved() == (7, 0)


async def test_usage_is_accounted_to_the_model_that_answered(make_bench: MakeBench):
    bench = await make_bench()
    bench.upstream.script(answered(model="local-llm"))
    await bench.request()
    [usage] = bench.reports.of("usage")
    assert usage["model"] == "local-llm"
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (3, 4)


# What replaces a failed call


def _failure(kind: str, status: int | None = None, **extra: Any) -> Failure:
    return Failure(kind, status=status, **extra)


async def test_an_answer_is_passed_on_as_it_is(make_bench: MakeBench):
    bench = await make_bench("fallback")
    result = answered()
    assert final_answer(bench.exchange(), result) is result.answer


async def test_a_stream_cut_midway_is_a_502_error_event(make_bench: MakeBench):
    bench = await make_bench("fallback")
    answer = final_answer(bench.exchange(), Failure("cut_stream", emitted=True))
    assert answer.status == 502
    assert json.loads(answer.body)["error"]["code"] == "cut_stream"
    assert not answer.degraded


async def test_a_chat_request_degrades_with_the_banner(make_bench: MakeBench):
    bench = await make_bench("fallback")
    answer = final_answer(bench.exchange(), _failure("breaker_open"))
    assert (answer.status, answer.degraded) == (200, True)
    body = json.loads(answer.body)
    assert body["choices"][0]["message"]["content"] == bench.gateway.config.fallback.banner
    assert body["degraded_reason"] == "breaker_open"
    assert bench.reports.count("degraded", route="chat", reason="breaker_open") == 1


@pytest.mark.parametrize(
    ("patterns", "route", "kind"),
    [(("fallback",), EMBEDDINGS, "http_5xx"), ((), CHAT, "breaker_open")],
    ids=["embeddings cannot degrade", "breaker open without fallback"],
)
async def test_what_cannot_degrade_is_a_503_with_the_breakers_retry_after(
    make_bench: MakeBench, patterns, route: Route, kind: str
):
    bench = await make_bench(*patterns)
    answer = final_answer(bench.exchange(route=route), _failure(kind, 503))
    assert answer.status == 503
    assert answer.headers == {"retry-after": "7"}
    assert json.loads(answer.body)["error"]["code"] == kind


async def test_without_fallback_the_providers_failure_is_passed_on(make_bench: MakeBench):
    bench = await make_bench()
    headers = {"Retry-After": "3", "Content-Type": "application/json", "Server": "x"}
    failure = _failure("http_429", 429, headers=headers, body=b'{"error":{"message":"slow"}}')
    answer = final_answer(bench.exchange(), failure)
    assert (answer.status, answer.body) == (429, b'{"error":{"message":"slow"}}')
    assert dict(answer.headers) == {"Retry-After": "3"}


@pytest.mark.parametrize(
    ("kind", "status"), [("timeout", 504), ("deadline", 504), ("connect", 502), ("protocol", 502)]
)
async def test_without_fallback_a_failure_without_status_is_a_gateway_error(
    make_bench: MakeBench, kind: str, status: int
):
    bench = await make_bench()
    answer = final_answer(bench.exchange(), _failure(kind))
    assert answer.status == status
    assert json.loads(answer.body)["error"]["code"] == kind


# Structured output


SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "n",
        "schema": {
            "type": "object",
            "properties": {"n": {"type": "integer"}},
            "required": ["n"],
        },
    },
}


async def test_an_invalid_structured_answer_is_repaired_once(make_bench: MakeBench):
    bench = await make_bench("structured", "budgets", tenant=BUDGETED)
    bench.upstream.script(answered(content="not json"), answered(content='{"n": 1}'))
    response = await bench.request(response_format=SCHEMA)
    assert response.status == 200
    assert json.loads(body_of(response)["choices"][0]["message"]["content"]) == {"n": 1}
    keys = [request.idempotency_key for request in bench.upstream.requests]
    assert keys == ["idem-1", "idem-1-repair1"]
    assert bench.budgets is not None
    assert bench.budgets.settlements == [14]  # both calls' usage, settled once


async def test_without_a_clients_key_one_is_made_for_the_calls_and_none_for_a_hit(
    make_bench: MakeBench,
):
    bench = await make_bench("structured", "cache")
    bench.upstream.script(answered(content="not json"), answered(content='{"n": 1}'))
    keyless = bench.exchange(response_format=SCHEMA)
    keyless.idempotency_key = ""
    await bench.handle(keyless)
    made, repaired = (request.idempotency_key for request in bench.upstream.requests)
    assert len(made) == 32
    assert repaired == f"{made}-repair1"
    hit = bench.exchange(response_format=SCHEMA)
    hit.idempotency_key = ""
    assert (await bench.handle(hit)).headers["x-cache"] == "hit"
    assert hit.idempotency_key == ""


async def test_a_structured_answer_still_invalid_degrades_and_is_not_cached(
    make_bench: MakeBench,
):
    bench = await make_bench("structured", "fallback", "cache", "budgets", tenant=BUDGETED)
    bench.upstream.script(answered(content="not json"))
    response = await bench.request(response_format=SCHEMA)
    assert len(bench.upstream.requests) == 2
    assert response.headers["x-degraded"] == "true"
    assert body_of(response)["degraded_reason"] == "invalid_structured_output"
    assert bench.budgets is not None
    assert bench.budgets.settlements == [14]
    await bench.request(response_format=SCHEMA)
    assert len(bench.upstream.requests) == 4
