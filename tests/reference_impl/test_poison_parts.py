"""Poison requests: a text part whose ``text`` is not a string is refused before the provider,
and a provider 400 is the answer: one call, no retry, no fallback, no breaker failure."""

import json

import aiohttp
import pytest
from aiohttp import web

from reference_impl import create_app
from reference_impl.breaker import BreakerPolicy, Breakers, BreakerState
from reference_impl.config import load_config
from reference_impl.metrics import GatewayMetrics
from reference_impl.resilience import ClientGoneError, Resilience, UpstreamRequest
from reference_impl.retry import Backoff, Deadline, RetryPolicy


KEY = "sk-test-poison-parts"
COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}],
}
BAD_REQUEST = {
    "error": {
        "message": "Invalid type for 'messages[0].content[0].text'",
        "type": "invalid_request_error",
        "param": "messages[0].content[0].text",
        "code": None,
    }
}


class _Fake:
    """A provider on loopback that answers ``status`` and records the models it was asked."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.models: list[str] = []

    def app(self) -> web.Application:
        async def chat(request: web.Request) -> web.Response:
            self.models.append((await request.json())["model"])
            body = COMPLETION if self.status == 200 else BAD_REQUEST
            return web.json_response(body, status=self.status)

        app = web.Application()
        app.router.add_post("/v1/chat/completions", chat)
        return app


async def _gateway(aiohttp_server, aiohttp_client, fake: _Fake):
    upstream = await aiohttp_server(fake.app(), host="127.0.0.1")
    overrides = {
        "provider_url": str(upstream.make_url("/v1")),
        "tenants": [{"name": "one", "api_key": KEY}],
    }
    return await aiohttp_client(create_app(load_config(None, overrides=overrides, environ={})))


def _parts(*parts):
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": list(parts)}]}


@pytest.mark.parametrize("text", [None, 3, {"a": 1}, ["x"]], ids=["null", "int", "object", "list"])
@pytest.mark.parametrize("stream", [False, True])
async def test_a_non_string_text_part_is_a_400_without_a_provider_call(
    aiohttp_server, aiohttp_client, text, stream
):
    fake = _Fake(200)
    client = await _gateway(aiohttp_server, aiohttp_client, fake)
    body = {
        **_parts({"type": "text", "text": "fine"}, {"type": "text", "text": text}),
        "stream": stream,
    }
    response = await client.post(
        "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"}
    )
    assert response.status == 400
    assert response.content_type == "application/json"
    error = (await response.json())["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "messages.0.content"
    assert "messages.0.content" in error["message"]
    assert "content[1].text must be a string" in error["message"]
    assert fake.models == []


async def test_a_text_part_without_text_is_a_400(aiohttp_server, aiohttp_client):
    fake = _Fake(200)
    client = await _gateway(aiohttp_server, aiohttp_client, fake)
    response = await client.post(
        "/v1/chat/completions",
        json=_parts({"type": "text"}),
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.status == 400
    assert "content[0].text must be a string" in (await response.json())["error"]["message"]
    assert fake.models == []


async def test_string_text_parts_and_other_parts_pass(aiohttp_server, aiohttp_client):
    fake = _Fake(200)
    client = await _gateway(aiohttp_server, aiohttp_client, fake)
    body = _parts({"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "x"}})
    response = await client.post(
        "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"}
    )
    assert response.status == 200
    assert fake.models == ["gpt-4o-mini"]


async def test_the_gateway_passes_a_provider_400_on_after_one_call(aiohttp_server, aiohttp_client):
    fake = _Fake(400)
    client = await _gateway(aiohttp_server, aiohttp_client, fake)
    response = await client.post(
        "/v1/chat/completions",
        json=_parts({"type": "text", "text": "hi"}),
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.status == 400
    assert await response.json() == BAD_REQUEST
    assert fake.models == ["gpt-4o-mini"]


def _resilience(session: aiohttp.ClientSession, breakers: Breakers) -> Resilience:
    """Three attempts per model, quick backoff, ``primary`` falling back to ``backup``."""
    return Resilience(
        session,
        metrics=GatewayMetrics(),
        retry_policy=RetryPolicy(max_attempts=3, backoff=Backoff(base_s=0.001, cap_s=0.002)),
        chains={"primary": ["primary", "backup"]},
        breakers=breakers,
    )


async def _resilience_calls(aiohttp_server, status: int, calls: int):
    """``calls`` requests through a resilience with retries, a fallback and a tight breaker."""
    fake = _Fake(status)
    upstream = await aiohttp_server(fake.app(), host="127.0.0.1")
    breakers = Breakers(BreakerPolicy(min_calls=2, failure_rate=0.5, open_s=60))
    async with aiohttp.ClientSession(base_url=upstream.make_url("/v1/")) as session:
        resilience = _resilience(session, breakers)
        results = []
        for index in range(calls):
            request = UpstreamRequest(
                path="chat/completions",
                body={"model": "primary", "messages": [{"role": "user", "content": "x"}]},
                model="primary",
                tenant="one",
                idempotency_key=f"key-{index}",
                deadline=Deadline(10.0),
            )
            results.append(await resilience.call(request, tap=None))  # type: ignore[arg-type]
    return fake.models, breakers.states(), results


async def test_a_provider_400_costs_one_call_and_leaves_the_breaker_closed(aiohttp_server):
    models, states, results = await _resilience_calls(aiohttp_server, 400, calls=10)
    assert models == ["primary"] * 10
    assert all(r.answer is not None and r.answer.status == 400 for r in results)
    assert json.loads(results[0].answer.body) == BAD_REQUEST
    assert states.get("primary", BreakerState.CLOSED) == BreakerState.CLOSED
    assert states.get("backup", BreakerState.CLOSED) == BreakerState.CLOSED


async def test_a_provider_500_is_retried_and_falls_back_unlike_a_400(aiohttp_server):
    """The control: the same set-up does retry and fall back on a 5xx, and opens breakers."""
    models, states, _ = await _resilience_calls(aiohttp_server, 500, calls=1)
    # two failed attempts open each breaker (min_calls=2), which hands over to the next model
    assert models == ["primary", "primary", "backup", "backup"]
    assert states == {"primary": BreakerState.OPEN, "backup": BreakerState.OPEN}


class _GoneClient:
    """A client that leaves as the first event is written to it."""

    async def emit(self, event: bytes) -> None:  # noqa: ARG002 - the Tap protocol
        raise aiohttp.ClientConnectionResetError("Cannot write to closing transport")


async def test_a_client_that_leaves_mid_stream_is_no_provider_failure(aiohttp_server):
    calls: list[str] = []

    async def stream(request: web.Request) -> web.StreamResponse:
        calls.append((await request.json())["model"])
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}}]}
        await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", stream)
    upstream = await aiohttp_server(app, host="127.0.0.1")
    breakers = Breakers(BreakerPolicy(min_calls=1, failure_rate=0.5, open_s=60))
    async with aiohttp.ClientSession(base_url=upstream.make_url("/v1/")) as session:
        resilience = _resilience(session, breakers)
        request = UpstreamRequest(
            path="chat/completions",
            body={"model": "primary", "messages": [{"role": "user", "content": "x"}]},
            model="primary",
            tenant="one",
            idempotency_key="key-gone",
            deadline=Deadline(10.0),
            stream=True,
        )
        with pytest.raises(ClientGoneError):
            await resilience.call(request, tap=_GoneClient())
    assert calls == ["primary"]  # no retry, no fallback for a client that has gone
    assert breakers.states().get("primary", BreakerState.CLOSED) == BreakerState.CLOSED
