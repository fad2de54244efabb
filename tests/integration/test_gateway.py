"""The stack's gateway (hardened, one worker): OpenAI compatibility, tenants, bad input."""

import io
import json

import aiohttp
import openai
import pytest
from gateway_support import chat, fast_provider, unique_messages
from scrape_support import stack_scrape_auth

from stack import Stack


@pytest.fixture
def key(stack: Stack) -> str:
    fast_provider(stack)
    return stack.api_keys["acme"]


@pytest.fixture
async def gateway_session(stack, key):
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(base_url=stack.endpoints.gateway, headers=headers) as session:
        yield session


async def test_health(gateway_session):
    async with gateway_session.get("/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}


async def test_a_chat_completion_reaches_the_provider_with_the_tenant(stack, gateway_session):
    async with gateway_session.post(
        "/v1/chat/completions", json=chat(unique_messages())
    ) as response:
        assert response.status == 200
        assert response.headers["x-cache"] == "miss"
        body = await response.json()
    assert body["object"] == "chat.completion"
    stats = stack.provider.stats()
    assert stats["total"]["requests"] == 1
    assert stats["tenants"]["acme"]["requests"] == 1


def test_the_sync_openai_sdk_works_unchanged(stack, key):
    client = openai.OpenAI(base_url=stack.endpoints.gateway + "/v1", api_key=key, max_retries=0)
    with client:
        completion = client.chat.completions.create(
            model="gpt-4o-mini", messages=unique_messages(), max_tokens=5
        )
        vectors = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert completion.choices[0].message.content
    assert completion.usage is not None
    assert completion.usage.completion_tokens <= 5
    assert [len(item.embedding) for item in vectors.data] == [8, 8]


async def test_the_async_openai_sdk_streams_and_replays_from_the_cache(stack, key):
    messages = unique_messages()
    async with openai.AsyncOpenAI(
        base_url=stack.endpoints.gateway + "/v1", api_key=key, max_retries=0
    ) as client:
        texts = []
        for _ in range(2):
            stream = await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=messages,
                max_tokens=8,
                temperature=0,
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks = [chunk async for chunk in stream]
            texts.append("".join(c.choices[0].delta.content or "" for c in chunks if c.choices))
            assert chunks[-1].usage is not None
    assert texts[0]
    assert texts[0] == texts[1]
    assert stack.provider.stats()["total"]["requests"] == 1


async def test_a_repeated_deterministic_request_is_a_cache_hit(stack, gateway_session):
    body = chat(unique_messages())
    statuses = []
    for _ in range(3):
        async with gateway_session.post("/v1/chat/completions", json=body) as response:
            assert response.status == 200
            statuses.append(response.headers["x-cache"])
    assert statuses == ["miss", "hit", "hit"]
    assert stack.provider.stats()["total"]["requests"] == 1


async def test_a_sampled_request_is_neither_cached_nor_marked(stack, gateway_session):
    body = {"model": "gpt-4o-mini", "messages": unique_messages(), "temperature": 0.7}
    for _ in range(2):
        async with gateway_session.post("/v1/chat/completions", json=body) as response:
            assert response.status == 200
            assert "x-cache" not in response.headers
    assert stack.provider.stats()["total"]["requests"] == 2


@pytest.mark.parametrize("authorization", [None, "Bearer sk-not-a-tenant", "Basic abc"])
async def test_an_unknown_or_missing_key_gets_a_json_401(stack, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    async with (
        aiohttp.ClientSession(base_url=stack.endpoints.gateway) as session,
        session.post(
            "/v1/chat/completions", json=chat(unique_messages()), headers=headers
        ) as response,
    ):
        assert response.status == 401
        assert (await response.json())["error"]["code"] in {
            "invalid_api_key",
            "missing_api_key",
        }
    assert stack.provider.stats()["total"]["requests"] == 0


ONE_MESSAGE = b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]'


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model"),
        (b'{"model": "gpt-4o-mini", "messages": []}', "messages"),
        (b'{"model": "gpt-4o-mini", "messages": [{"content": "x"}]}', "messages.0.role"),
        (b'{"model": 5, "messages": [{"role": "user", "content": "x"}]}', "model"),
        (ONE_MESSAGE + b', "temperature": "hot"}', "temperature"),
        (ONE_MESSAGE + b', "max_tokens": -1}', "max_tokens"),
        (b'{"model": "gpt-4o-mini", "messages": "hello"}', "messages"),
    ],
)
async def test_bad_input_gets_a_json_400_naming_the_problem(stack, gateway_session, body, fragment):
    async with gateway_session.post(
        "/v1/chat/completions", data=body, headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 400
        error = (await response.json())["error"]
    assert fragment in error["message"]
    assert error["type"] == "invalid_request_error"
    assert stack.provider.stats()["total"]["requests"] == 0


async def test_bad_embeddings_input_gets_a_json_400(gateway_session):
    async with gateway_session.post(
        "/v1/embeddings", json={"model": "text-embedding-3-small", "input": {"a": 1}}
    ) as response:
        assert response.status == 400
        assert "input" in (await response.json())["error"]["message"]


async def test_an_oversized_body_gets_a_json_413(gateway_session):
    body = json.dumps(chat([{"role": "user", "content": "x" * (2 << 20)}])).encode()
    async with gateway_session.post(
        "/v1/chat/completions", data=io.BytesIO(body), headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 413
        assert (await response.json())["error"]["message"]


async def test_a_bad_deadline_header_gets_a_json_400(gateway_session):
    async with gateway_session.post(
        "/v1/chat/completions",
        json=chat(unique_messages()),
        headers={"x-meltproof-deadline-ms": "soon"},
    ) as response:
        assert response.status == 400
        assert "x-meltproof-deadline-ms" in (await response.json())["error"]["message"]


async def test_an_unknown_route_gets_a_json_404(gateway_session):
    async with gateway_session.get("/v1/nothing-here") as response:
        assert response.status == 404
        assert (await response.json())["error"]["message"]


def _tokens(text: str, direction: str) -> float:
    """acme's gpt-4o-mini tokens of undeclared prompt versions (0 before the first)."""
    wanted = ('tenant="acme"', 'model="gpt-4o-mini"', 'prompt_version="other"')
    wanted += (f'direction="{direction}"',)
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("meltproof_gateway_tokens_total{") and all(w in line for w in wanted)
    )


async def test_metrics_count_requests_tokens_and_cost(stack, gateway_session):
    async def scrape():
        async with gateway_session.get("/metrics", headers=stack_scrape_auth(stack)) as response:
            assert response.status == 200
            return await response.text()

    before = await scrape()
    async with gateway_session.post(
        "/v1/chat/completions", json=chat(unique_messages()), headers={"x-prompt-version": "v7"}
    ) as response:
        usage = (await response.json())["usage"]
    text = await scrape()
    assert 'prompt_version="v7"' not in text  # not declared: counted as "other"
    for direction, tokens in (("in", "prompt_tokens"), ("out", "completion_tokens")):
        counted = _tokens(text, direction) - _tokens(before, direction)
        assert counted == usage[tokens] > 0, direction
    assert "meltproof_gateway_cost_usd_total{" in text


async def test_metrics_need_the_scrape_token(gateway_session):
    async with gateway_session.get("/metrics") as response:  # a tenant's key is not it
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "invalid_metrics_token"
