"""The gateway forwards to the provider through its Toxiproxy link."""

import aiohttp
import openai
import pytest

from reference_impl import GatewayConfig, create_app
from stack import Toxic, links


MESSAGES = [{"role": "user", "content": "Summarise candidate 42."}]


@pytest.fixture
async def gateway_session(stack):
    async with aiohttp.ClientSession(base_url=stack.endpoints.gateway) as session:
        yield session


async def test_health(gateway_session):
    async with gateway_session.get("/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}


async def test_a_chat_completion_is_forwarded(stack, gateway_session):
    async with gateway_session.post(
        "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": MESSAGES}
    ) as response:
        assert response.status == 200
        body = await response.json()
    assert body["object"] == "chat.completion"
    assert stack.provider.stats()["total"]["requests"] == 1


async def test_a_stream_is_relayed_as_server_sent_events(stack):
    async with openai.AsyncOpenAI(
        base_url=stack.endpoints.gateway + "/v1", api_key="k", max_retries=0
    ) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, max_tokens=5, stream=True
        )
        pieces = [c.choices[0].delta.content async for c in stream if c.choices]
    assert len([p for p in pieces if p]) == 5


@pytest.mark.parametrize(
    ("body", "fragment"),
    [(b"{not json", "not valid JSON"), (b"[1, 2]", "must be a JSON object")],
)
async def test_malformed_json_gets_a_json_400(gateway_session, body, fragment):
    async with gateway_session.post("/v1/chat/completions", data=body) as response:
        assert response.status == 400
        error = (await response.json())["error"]
    assert fragment in error["message"]
    assert error["type"] == "invalid_request_error"


async def test_an_unknown_route_gets_a_json_404(gateway_session):
    async with gateway_session.get("/v1/nothing-here") as response:
        assert response.status == 404
        assert (await response.json())["error"]["message"]


async def test_a_broken_provider_link_gives_a_json_502(stack, gateway_session):
    stack.toxiproxy.set_enabled(links.PROVIDER, False)
    async with gateway_session.post(
        "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": MESSAGES}
    ) as response:
        assert response.status == 502
        assert (await response.json())["error"]["type"] == "upstream_error"


async def test_a_slow_provider_link_gives_a_json_504_after_the_timeout(stack, aiohttp_client):
    config = GatewayConfig(provider_url=stack.endpoints.provider_proxied, upstream_timeout_s=0.3)
    client = await aiohttp_client(create_app(config))
    stack.toxiproxy.add_toxic(
        links.PROVIDER, Toxic("slow", "latency", attributes={"latency": 1000})
    )
    response = await client.post(
        "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": MESSAGES}
    )
    assert response.status == 504
    assert (await response.json())["error"]["type"] == "timeout"
