"""``Resilience``: what one call costs the provider and what it ends with.

A scripted provider on loopback answers each model from a list of replies and records every
call. The resilience's waits are recorded and passed on a fake clock instead of slept, so
the deadline, the retry budget and the breakers all run on that clock, and a provider reply
can "take" fake time too. Nothing here depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from fake_clock import FakeClock
from metric_reports_support import Reports

from reference_impl.arrival import ARRIVED
from reference_impl.breaker import BreakerPolicy, Breakers, BreakerState
from reference_impl.resilience import Failure, Resilience, Result, UpstreamRequest
from reference_impl.retry import Backoff, Deadline, RetryBudget, RetryPolicy


KEY = "key-1"
SEED = 7


@dataclass(frozen=True)
class Reply:
    """One scripted provider answer: a status with a JSON body, or a stream of events."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    """None: a completion for a 200, an error object otherwise."""
    events: list[bytes] | None = None
    """Answer as ``text/event-stream`` with these events."""
    takes_s: float = 0.0
    """Fake time the provider spends before answering."""
    hang: bool = False
    """Never answer (until the test ends)."""


@dataclass(frozen=True)
class Call:
    model: str
    idempotency_key: str
    body: dict[str, Any]


class Provider:
    """Answers each model from its script (the last reply repeats) and records every call."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls: list[Call] = []
        self.released = asyncio.Event()
        self.server: TestServer | None = None
        self._scripts: dict[str, list[Reply]] = {}

    def script(self, model: str, *replies: Reply) -> None:
        self._scripts[model] = list(replies)

    def models(self) -> list[str]:
        return [call.model for call in self.calls]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        return app

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.calls.append(Call(body["model"], request.headers["Idempotency-Key"], body))
        script = self._scripts.get(body["model"], [Reply()])
        reply = script.pop(0) if len(script) > 1 else script[0]
        self.clock.advance(reply.takes_s)
        if reply.hang:
            await self.released.wait()
        if reply.events is None:
            payload = reply.body if reply.body is not None else _body(reply.status, body["model"])
            return web.Response(
                status=reply.status,
                body=payload,
                headers=reply.headers,
                content_type="application/json",
            )
        response = web.StreamResponse(status=reply.status, headers=reply.headers)
        response.content_type = "text/event-stream"
        await response.prepare(request)
        for event in reply.events:
            await response.write(event)
        await response.write_eof()
        return response


def _body(status: int, model: str) -> bytes:
    if status != 200:
        return json.dumps({"error": {"message": f"status {status}", "type": "test"}}).encode()
    completion = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    return json.dumps(completion).encode()


def _event(data: dict[str, Any] | bytes) -> bytes:
    payload = data if isinstance(data, bytes) else json.dumps(data).encode()
    return b"data: " + payload + b"\n\n"


def _chunk(delta: dict[str, str], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "primary"}
    return _event({**chunk, "choices": [choice]})


STREAM = [
    _chunk({"role": "assistant", "content": "he"}),
    _chunk({"content": "llo"}),
    _chunk({}, finish="stop"),
    _event(b"[DONE]"),
]


class Events:
    """A tap that keeps what the client would have been sent."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def emit(self, chunk: bytes) -> None:
        self.sent.append(chunk)


class Waits:
    """The resilience's sleep: recorded, and passing on the fake clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.slept: list[float] = []

    async def sleep(self, delay: float) -> None:
        self.slept.append(delay)
        self.clock.advance(delay)
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def waits(clock: FakeClock) -> Waits:
    return Waits(clock)


@pytest.fixture
async def provider(aiohttp_server, clock: FakeClock) -> AsyncIterator[Provider]:
    fake = Provider(clock)
    fake.server = await aiohttp_server(fake.app(), host="127.0.0.1")
    yield fake
    fake.released.set()


@pytest.fixture
async def session(provider: Provider) -> AsyncIterator[aiohttp.ClientSession]:
    assert provider.server is not None
    async with aiohttp.ClientSession(base_url=provider.server.make_url("/v1/")) as client:
        yield client


@dataclass
class Rig:
    """What a test varies; ``build`` makes the resilience on the fake clock."""

    session: aiohttp.ClientSession
    clock: FakeClock
    waits: Waits
    reports: Reports = field(default_factory=Reports)
    transitions: list[tuple[str, str, str]] = field(default_factory=list)

    def build(
        self,
        *,
        chains: dict[str, list[str]] | None = None,
        max_attempts: int = 3,
        backoff: Backoff | None = None,
        honour_retry_after: bool = True,
        breaker: BreakerPolicy | None = None,
        budget: RetryBudget | None = None,
        attempt_cap_s: float = 30.0,
    ) -> Resilience:
        breakers = None
        if breaker is not None:
            breakers = Breakers(breaker, clock=self.clock, on_transition=self._transition)
        return Resilience(
            self.session,
            metrics=self.reports,  # type: ignore[arg-type]
            retry_policy=RetryPolicy(
                max_attempts=max_attempts,
                backoff=backoff or Backoff(base_s=0.01, cap_s=1.0),
                honour_retry_after=honour_retry_after,
            ),
            chains=chains or {},
            breakers=breakers,
            retry_budget=budget,
            attempt_cap_s=attempt_cap_s,
            rng=random.Random(SEED),  # noqa: S311 - jitter, not secrets
            clock=self.clock,
            sleep=self.waits.sleep,
        )

    def budget(self, *, ratio: float, min_per_s: float) -> RetryBudget:
        return RetryBudget(ratio=ratio, min_per_s=min_per_s, window_s=10.0, clock=self.clock)

    def request(
        self, model: str = "primary", *, deadline_s: float | None = 10.0, key: str = KEY, **extra
    ) -> UpstreamRequest:
        return UpstreamRequest(
            path="chat/completions",
            body={"model": model, "messages": [{"role": "user", "content": "hi"}]},
            model=model,
            tenant="one",
            idempotency_key=key,
            deadline=Deadline(deadline_s, clock=self.clock),
            **extra,
        )

    def _transition(self, name: str, old: BreakerState, new: BreakerState) -> None:
        self.transitions.append((name, str(old), str(new)))


@pytest.fixture
def rig(session: aiohttp.ClientSession, clock: FakeClock, waits: Waits) -> Rig:
    return Rig(session, clock, waits)


async def call(resilience: Resilience, request: UpstreamRequest, tap: Events | None = None):
    return await resilience.call(request, tap or Events())


def status_of(outcome: Result | Failure) -> int | None:
    return outcome.answer.status if isinstance(outcome, Result) else outcome.status


# Attempts per request


async def test_an_answer_at_the_first_attempt_costs_one_call(rig: Rig, provider: Provider):
    result = await call(rig.build(chains={"primary": ["primary", "backup"]}), rig.request())
    assert provider.models() == ["primary"]
    assert isinstance(result, Result)
    assert (result.answer.status, result.answer.model) == (200, "primary")
    assert result.usage == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert rig.waits.slept == []


async def test_a_failure_is_retried_until_the_answer_comes(rig: Rig, provider: Provider):
    provider.script("primary", Reply(503), Reply(502), Reply(200))
    result = await call(rig.build(max_attempts=3), rig.request())
    assert provider.models() == ["primary"] * 3
    assert status_of(result) == 200
    assert rig.reports.count("retry", outcome="scheduled") == 2


async def test_backoff_waits_are_full_jitter_below_a_doubling_ceiling(rig: Rig, provider: Provider):
    provider.script("primary", Reply(503))
    backoff = Backoff(base_s=0.1, cap_s=0.15)
    await call(rig.build(max_attempts=4, backoff=backoff), rig.request())
    draws = random.Random(SEED)  # noqa: S311 - the same seeded jitter
    expected = [draws.uniform(0, 0.1), draws.uniform(0, 0.15), draws.uniform(0, 0.15)]
    assert rig.waits.slept == expected


async def test_all_attempts_share_the_idempotency_key_and_a_fallback_has_its_own(
    rig: Rig, provider: Provider
):
    provider.script("primary", Reply(503))
    provider.script("backup", Reply(503), Reply(200))
    chains = {"primary": ["primary", "backup"]}
    await call(rig.build(chains=chains, max_attempts=2), rig.request())
    keys = [(c.model, c.idempotency_key) for c in provider.calls]
    assert keys == [
        ("primary", KEY),
        ("primary", KEY),
        ("backup", f"{KEY}-backup"),
        ("backup", f"{KEY}-backup"),
    ]


async def test_a_failing_chain_costs_max_attempts_per_model_and_no_more(
    rig: Rig, provider: Provider
):
    for model in ("a", "b", "c"):
        provider.script(model, Reply(503))
    result = await call(rig.build(chains={"a": ["a", "b", "c"]}, max_attempts=3), rig.request("a"))
    assert provider.models() == ["a"] * 3 + ["b"] * 3 + ["c"] * 3
    assert isinstance(result, Failure)
    assert (result.kind, result.status) == ("http_5xx", 503)
    assert rig.reports.count("fallback", from_model="a", to_model="b") == 1
    assert rig.reports.count("fallback", from_model="b", to_model="c") == 1


async def test_one_attempt_means_no_retry(rig: Rig, provider: Provider):
    provider.script("primary", Reply(503))
    await call(rig.build(max_attempts=1), rig.request())
    assert provider.models() == ["primary"]
    assert rig.waits.slept == []


# What is retried


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_timeouts_rate_limits_and_server_errors_are_retried(
    rig: Rig, provider: Provider, status: int
):
    provider.script("primary", Reply(status), Reply(200))
    result = await call(rig.build(), rig.request())
    assert provider.models() == ["primary", "primary"]
    assert status_of(result) == 200


async def test_a_malformed_200_is_retried(rig: Rig, provider: Provider):
    provider.script("primary", Reply(200, body=b"{not json"), Reply(200))
    result = await call(rig.build(), rig.request())
    assert provider.models() == ["primary", "primary"]
    assert status_of(result) == 200


async def test_a_provider_that_never_answers_times_out_and_is_retried(rig: Rig, provider: Provider):
    provider.script("primary", Reply(hang=True), Reply(200))
    result = await call(rig.build(attempt_cap_s=0.05), rig.request())
    assert provider.models() == ["primary", "primary"]
    assert status_of(result) == 200
    outcomes = [(a["model"], a["outcome"]) for a in rig.reports.of("upstream_attempt")]
    assert outcomes == [("primary", "timeout"), ("primary", "ok")]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422, 501])
async def test_a_status_not_worth_retrying_is_the_answer_no_retry_no_fallback_no_failure(
    rig: Rig, provider: Provider, status: int
):
    provider.script(
        "primary", Reply(status, headers={"x-ratelimit-remaining": "9", "x-other": "1"})
    )
    breaker = BreakerPolicy(min_calls=1, failure_rate=0.5, open_s=60)
    resilience = rig.build(chains={"primary": ["primary", "backup"]}, breaker=breaker)
    result = await call(resilience, rig.request())
    assert provider.models() == ["primary"]
    assert isinstance(result, Result)
    assert result.answer.status == status
    assert json.loads(result.answer.body)["error"]["message"] == f"status {status}"
    passed = {name.lower(): value for name, value in result.answer.headers.items()}
    assert passed == {"x-ratelimit-remaining": "9"}
    assert rig.transitions == []
    assert rig.waits.slept == []


# Retry-After


async def test_a_retry_after_is_waited_out_when_longer_than_the_backoff(
    rig: Rig, provider: Provider
):
    provider.script("primary", Reply(429, headers={"Retry-After": "2"}), Reply(200))
    result = await call(rig.build(), rig.request(deadline_s=10.0))
    assert rig.waits.slept == [2.0]
    assert provider.models() == ["primary", "primary"]
    assert status_of(result) == 200


async def test_retry_after_ms_wins_over_retry_after(rig: Rig, provider: Provider):
    headers = {"Retry-After": "5", "retry-after-ms": "300"}
    provider.script("primary", Reply(429, headers=headers), Reply(200))
    await call(rig.build(), rig.request())
    assert rig.waits.slept == [0.3]


async def test_a_retry_after_beyond_the_deadline_is_no_retry_and_the_429_is_the_outcome(
    rig: Rig, provider: Provider
):
    provider.script("primary", Reply(429, headers={"Retry-After": "20"}))
    result = await call(rig.build(), rig.request(deadline_s=10.0))
    assert provider.models() == ["primary"]
    assert rig.waits.slept == []
    assert isinstance(result, Failure)
    assert (result.kind, result.status) == ("http_429", 429)
    assert result.headers["Retry-After"] == "20"


async def test_a_retry_after_over_the_backoff_cap_hands_over_to_the_fallback_at_once(
    rig: Rig, provider: Provider
):
    provider.script("primary", Reply(429, headers={"Retry-After": "2"}))
    chains = {"primary": ["primary", "backup"]}
    result = await call(rig.build(chains=chains), rig.request())
    assert provider.models() == ["primary", "backup"]
    assert rig.waits.slept == []
    assert isinstance(result, Result)
    assert result.answer.model == "backup"


async def test_a_retry_after_within_the_backoff_cap_retries_the_same_model(
    rig: Rig, provider: Provider
):
    provider.script("primary", Reply(429, headers={"Retry-After": "0.5"}), Reply(200))
    chains = {"primary": ["primary", "backup"]}
    await call(rig.build(chains=chains), rig.request())
    assert provider.models() == ["primary", "primary"]
    assert rig.waits.slept == [0.5]


async def test_the_naive_policy_ignores_retry_after(rig: Rig, provider: Provider):
    provider.script("primary", Reply(429, headers={"Retry-After": "20"}), Reply(200))
    chains = {"primary": ["primary", "backup"]}
    naive = Backoff(base_s=0.05, cap_s=1.0, jitter=False)
    resilience = rig.build(chains=chains, backoff=naive, honour_retry_after=False)
    await call(resilience, rig.request())
    assert provider.models() == ["primary", "primary"]
    assert rig.waits.slept == [0.05]


# Deadline


async def test_no_retry_whose_wait_would_reach_the_deadline(rig: Rig, provider: Provider):
    provider.script("primary", Reply(503))
    slow = Backoff(base_s=0.6, cap_s=5.0, jitter=False)
    result = await call(rig.build(max_attempts=5, backoff=slow), rig.request(deadline_s=1.0))
    assert rig.waits.slept == [0.6]  # the next wait, 1.2 s, is past the 0.4 s left
    assert provider.models() == ["primary", "primary"]
    assert status_of(result) == 503


async def test_a_request_whose_deadline_has_passed_makes_no_call(rig: Rig, provider: Provider):
    chains = {"primary": ["primary", "backup"]}
    result = await call(rig.build(chains=chains), rig.request(deadline_s=0.0))
    assert provider.calls == []
    assert isinstance(result, Failure)
    assert result.kind == "deadline"


async def test_an_attempt_that_spends_the_deadline_ends_the_chain_with_its_failure(
    rig: Rig, provider: Provider
):
    provider.script("primary", Reply(503, takes_s=2.0))
    chains = {"primary": ["primary", "backup"]}
    result = await call(rig.build(chains=chains), rig.request(deadline_s=1.0))
    assert provider.models() == ["primary"]
    assert isinstance(result, Failure)
    assert (result.kind, result.status) == ("http_5xx", 503)


# Retry budget


async def test_retries_stop_when_the_budget_is_spent(rig: Rig, provider: Provider):
    provider.script("primary", Reply(503))
    budget = rig.budget(ratio=0.0, min_per_s=0.2)  # two retries per 10 s window
    resilience = rig.build(max_attempts=5, budget=budget)
    first = await call(resilience, rig.request(key="k1"))
    assert provider.models() == ["primary"] * 3
    assert isinstance(first, Failure)
    assert (first.kind, first.status) == ("http_5xx", 503)
    assert json.loads(first.body)["error"]["message"] == "status 503"
    assert rig.reports.count("retry", outcome="budget_exhausted") == 1

    second = await call(resilience, rig.request(key="k2"))
    assert provider.models() == ["primary"] * 4  # no retry left in the window
    assert status_of(second) == 503
    assert rig.reports.count("retry", outcome="budget_exhausted") == 2


async def test_a_spent_budget_refills_as_the_window_slides(rig: Rig, provider: Provider):
    provider.script("primary", Reply(503))
    budget = rig.budget(ratio=0.0, min_per_s=0.1)  # one retry per 10 s window
    resilience = rig.build(max_attempts=3, budget=budget)
    await call(resilience, rig.request(key="k1"))
    await call(resilience, rig.request(key="k2"))
    assert provider.models() == ["primary"] * 3
    rig.clock.advance(10.0)
    await call(resilience, rig.request(key="k3"))
    assert provider.models() == ["primary"] * 5


async def test_each_request_deposits_its_share_of_a_retry_once_however_many_attempts(
    rig: Rig, provider: Provider
):
    provider.script("primary", Reply(503))
    budget = rig.budget(ratio=0.5, min_per_s=0.0)  # a retry per two requests
    resilience = rig.build(max_attempts=5, budget=budget)
    attempts = []
    for index in range(4):
        before = len(provider.calls)
        await call(resilience, rig.request(key=f"k{index}"))
        attempts.append(len(provider.calls) - before)
    assert attempts == [1, 2, 1, 2]


async def test_a_spent_budget_still_lets_the_fallback_try(rig: Rig, provider: Provider):
    provider.script("primary", Reply(503))
    budget = rig.budget(ratio=0.0, min_per_s=0.0)
    chains = {"primary": ["primary", "backup"]}
    result = await call(rig.build(chains=chains, budget=budget), rig.request())
    assert provider.models() == ["primary", "backup"]
    assert status_of(result) == 200


# Breakers and fallback


TIGHT = BreakerPolicy(min_calls=2, failure_rate=0.5, open_s=30.0)


async def test_failures_open_the_breaker_which_hands_over_to_the_fallback(
    rig: Rig, provider: Provider
):
    provider.script("primary", Reply(503))
    chains = {"primary": ["primary", "backup"]}
    resilience = rig.build(chains=chains, max_attempts=3, breaker=TIGHT)
    result = await call(resilience, rig.request())
    assert provider.models() == ["primary", "primary", "backup"]
    assert rig.transitions == [("primary", "closed", "open")]
    assert isinstance(result, Result)
    assert result.answer.model == "backup"
    assert rig.reports.count("fallback", from_model="primary", to_model="backup") == 1


async def test_a_breaker_that_opens_hands_over_at_once_without_spending_a_retry(
    rig: Rig, provider: Provider
):
    provider.script("primary", Reply(503))
    chains = {"primary": ["primary", "backup"]}
    budget = rig.budget(ratio=0.0, min_per_s=1.0)
    resilience = rig.build(chains=chains, max_attempts=3, breaker=TIGHT, budget=budget)
    await call(resilience, rig.request())
    assert provider.models() == ["primary", "primary", "backup"]  # one retry was made
    assert len(rig.waits.slept) == 1
    assert rig.reports.count("retry", outcome="scheduled") == 1


async def test_an_open_breaker_skips_its_model_until_it_half_opens(rig: Rig, provider: Provider):
    provider.script("primary", Reply(503), Reply(503), Reply(200))
    chains = {"primary": ["primary", "backup"]}
    resilience = rig.build(chains=chains, breaker=TIGHT)
    await call(resilience, rig.request(key="k1"))
    provider.calls.clear()
    await call(resilience, rig.request(key="k2"))
    assert provider.models() == ["backup"]
    assert resilience.retry_after_s("primary") == pytest.approx(30.0, abs=0.05)

    rig.clock.advance(30.0)
    result = await call(resilience, rig.request(key="k3"))
    assert provider.models() == ["backup", "primary"]
    assert isinstance(result, Result)
    assert result.answer.model == "primary"
    assert rig.transitions[-1] == ("primary", "open", "half_open")


async def test_with_every_breaker_open_no_call_is_made(rig: Rig, provider: Provider):
    provider.script("primary", Reply(503))
    resilience = rig.build(breaker=TIGHT)
    await call(resilience, rig.request(key="k1"))
    provider.calls.clear()
    result = await call(resilience, rig.request(key="k2"))
    assert provider.calls == []
    assert isinstance(result, Failure)
    assert result.kind == "breaker_open"
    assert resilience.retry_after_s("primary") == pytest.approx(30.0, abs=0.05)


async def test_successes_are_recorded_so_a_few_failures_do_not_trip(rig: Rig, provider: Provider):
    ok, failed = Reply(200), Reply(503)
    provider.script("primary", ok, ok, ok, failed, ok, failed, ok)
    resilience = rig.build(breaker=TIGHT)
    for index in range(5):
        await call(resilience, rig.request(key=f"k{index}"))
    assert len(provider.calls) == 7  # two failures in seven calls: a rate of 0.29
    assert rig.transitions == []


async def test_a_model_without_a_chain_has_no_fallback(rig: Rig, provider: Provider):
    provider.script("primary", Reply(503))
    result = await call(rig.build(chains={}), rig.request())
    assert provider.models() == ["primary"] * 3
    assert status_of(result) == 503
    assert rig.reports.count("fallback", from_model="primary", to_model="backup") == 0


# Streams


async def test_a_stream_is_relayed_and_done_comes_last(rig: Rig, provider: Provider):
    provider.script("primary", Reply(events=STREAM))
    tap = Events()
    result = await call(rig.build(), rig.request(stream=True), tap)
    assert tap.sent == STREAM
    assert provider.calls[0].body["stream_options"] == {"include_usage": True}
    assert isinstance(result, Result)
    completion = json.loads(result.answer.body)
    assert completion["choices"][0]["message"]["content"] == "hello"


async def test_a_malformed_first_event_is_retried_unseen(rig: Rig, provider: Provider):
    provider.script("primary", Reply(events=[_event(b"{not json")]), Reply(events=STREAM))
    tap = Events()
    result = await call(rig.build(), rig.request(stream=True), tap)
    assert provider.models() == ["primary", "primary"]
    assert tap.sent == STREAM
    assert status_of(result) == 200


async def test_a_stream_cut_after_events_were_sent_is_not_retried(rig: Rig, provider: Provider):
    provider.script("primary", Reply(events=[*STREAM[:2], _event(b"{not json")]))
    chains = {"primary": ["primary", "backup"]}
    breaker = BreakerPolicy(min_calls=1, failure_rate=0.5, open_s=30.0)
    tap = Events()
    result = await call(rig.build(chains=chains, breaker=breaker), rig.request(stream=True), tap)
    assert provider.models() == ["primary"]
    assert tap.sent == STREAM[:2]
    assert isinstance(result, Failure)
    assert (result.kind, result.emitted) == ("malformed_stream", True)
    assert rig.transitions == [("primary", "closed", "open")]


# What the metrics are told


async def test_every_attempt_reports_its_model_outcome_and_duration(rig: Rig, provider: Provider):
    provider.script("primary", Reply(503, takes_s=1.0), Reply(200, takes_s=0.5))
    await call(rig.build(), rig.request())
    attempts = rig.reports.of("upstream_attempt")
    assert [(a["model"], a["outcome"]) for a in attempts] == [
        ("primary", "http_5xx"),
        ("primary", "ok"),
    ]
    assert [a["seconds"] for a in attempts] == [pytest.approx(1.0), pytest.approx(0.5)]


async def test_a_stream_reports_its_time_to_first_token_once(rig: Rig, provider: Provider):
    provider.script("primary", Reply(events=STREAM, takes_s=0.25))
    await call(rig.build(), rig.request(stream=True))
    assert rig.reports.of("first_token") == [{"model": "primary", "seconds": pytest.approx(0.25)}]
    [attempt] = rig.reports.of("upstream_attempt")
    assert (attempt["outcome"], attempt["seconds"]) == ("ok", pytest.approx(0.25))


async def test_time_to_first_token_counts_failed_attempts_and_names_the_model_that_answered(
    rig: Rig, provider: Provider
):
    provider.script("primary", Reply(503, takes_s=1.0))
    provider.script("backup", Reply(events=STREAM, takes_s=0.5))
    resilience = rig.build(chains={"primary": ["primary", "backup"]}, max_attempts=1)
    await call(resilience, rig.request(stream=True))
    assert rig.reports.of("first_token") == [{"model": "backup", "seconds": pytest.approx(1.5)}]


async def test_time_to_first_token_counts_from_the_requests_arrival(rig: Rig, provider: Provider):
    provider.script("primary", Reply(events=STREAM, takes_s=0.25))
    arrived = ARRIVED.set(rig.clock() - 2.0)
    try:
        await call(rig.build(), rig.request(stream=True))
    finally:
        ARRIVED.reset(arrived)
    assert rig.reports.of("first_token") == [{"model": "primary", "seconds": pytest.approx(2.25)}]


async def test_a_stream_without_content_and_a_whole_answer_have_no_first_token(
    rig: Rig, provider: Provider
):
    role_only = [_chunk({"role": "assistant", "content": ""}), _chunk({}, finish="stop")]
    provider.script("primary", Reply(events=[*role_only, _event(b"[DONE]")]), Reply(200))
    resilience = rig.build()
    await call(resilience, rig.request(stream=True))
    await call(resilience, rig.request())
    assert rig.reports.of("first_token") == []
    assert len(rig.reports.of("upstream_attempt")) == 2
