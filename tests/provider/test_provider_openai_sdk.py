"""The official openai SDK works against the provider unchanged (async and sync)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import openai
import pytest
from provider_support import FAST_CONFIG
from pydantic import BaseModel
from pytest_aiohttp import AiohttpServer

from stack.provider import create_app


START_TIMEOUT_S = 20


@pytest.fixture
async def aclient(aiohttp_server: AiohttpServer) -> AsyncIterator[openai.AsyncOpenAI]:
    server = await aiohttp_server(create_app(FAST_CONFIG))
    base_url = str(server.make_url("/v1"))
    async with openai.AsyncOpenAI(base_url=base_url, api_key="sk-test", max_retries=0) as client:
        yield client


async def test_async_chat(aclient: openai.AsyncOpenAI) -> None:
    completion = await aclient.chat.completions.create(
        model="fast", messages=[{"role": "user", "content": "Hi!"}], max_tokens=4, n=2
    )
    assert completion.model == "fast"
    assert [c.finish_reason for c in completion.choices] == ["length", "length"]
    assert completion.choices[0].message.content
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 8


async def test_async_stream_with_usage(aclient: openai.AsyncOpenAI) -> None:
    stream = await aclient.chat.completions.create(
        model="fast",
        messages=[{"role": "user", "content": "Hi!"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage, finish = [], None, None
    async for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    assert finish == "stop"
    assert usage is not None
    assert usage.completion_tokens == len([p for p in pieces if p])


class City(BaseModel):
    name: str
    population: int
    sights: list[str]


async def test_async_structured_output_parses(aclient: openai.AsyncOpenAI) -> None:
    completion = await aclient.chat.completions.parse(
        model="fast", messages=[{"role": "user", "content": "A city?"}], response_format=City
    )
    assert isinstance(completion.choices[0].message.parsed, City)


async def test_async_embeddings_base64_by_default_and_float(aclient: openai.AsyncOpenAI) -> None:
    default = await aclient.embeddings.create(model="embed", input=["hello", "world"])
    assert len(default.data) == 2
    assert len(default.data[0].embedding) == 64
    assert default.usage.prompt_tokens == 2
    as_float = await aclient.embeddings.create(
        model="embed", input="hello", encoding_format="float", dimensions=8
    )
    assert len(as_float.data[0].embedding) == 8
    assert sum(x * x for x in as_float.data[0].embedding) == pytest.approx(1.0, abs=1e-5)


async def test_async_models(aclient: openai.AsyncOpenAI) -> None:
    ids = [model.id async for model in aclient.models.list()]
    assert ids == ["fast", "exact", "embed"]
    assert (await aclient.models.retrieve("exact")).id == "exact"
    with pytest.raises(openai.NotFoundError):
        await aclient.models.retrieve("gpt-5")


async def test_async_errors_are_typed(aclient: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        await aclient.chat.completions.create(model="fast", messages=[], max_tokens=1)
    assert bad.value.param == "messages"
    with pytest.raises(openai.NotFoundError) as missing:
        await aclient.chat.completions.create(
            model="gpt-5", messages=[{"role": "user", "content": "x"}]
        )
    assert missing.value.code == "model_not_found"


@pytest.fixture(scope="module")
def provider_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m stack.provider`` as its own process on a free port."""
    config = tmp_path_factory.mktemp("provider") / "config.json"
    config.write_text(FAST_CONFIG.model_dump_json())
    process = subprocess.Popen(
        [sys.executable, "-m", "stack.provider", "--port", "0", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("provider listening on http://127.0.0.1:"), line
        yield line.removeprefix("provider listening on ").strip()
    finally:
        process.terminate()
        process.wait(timeout=START_TIMEOUT_S)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture
def sync_client(provider_url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{provider_url}/v1", api_key="sk-test", max_retries=0) as client:
        yield client


def test_sync_chat_stream_embeddings_models(sync_client: openai.OpenAI) -> None:
    messages: list[openai.types.chat.ChatCompletionMessageParam] = [
        {"role": "user", "content": "Hello"}
    ]
    completion = sync_client.chat.completions.create(model="fast", messages=messages)
    text = completion.choices[0].message.content
    with sync_client.chat.completions.create(
        model="fast", messages=messages, stream=True, stream_options={"include_usage": True}
    ) as stream:
        chunks = list(stream)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == text
    assert chunks[-1].usage is not None
    assert completion.usage is not None
    assert chunks[-1].usage.completion_tokens == completion.usage.completion_tokens
    embedding = sync_client.embeddings.create(model="embed", input="hello")
    assert len(embedding.data[0].embedding) == 64
    assert [m.id for m in sync_client.models.list()] == ["fast", "exact", "embed"]


def _control(method: str, url: str, body: object = None) -> None:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback http
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        assert response.status == 200


def test_sync_client_sees_injected_rate_limits(
    sync_client: openai.OpenAI, provider_url: str
) -> None:
    faults = f"{provider_url}/_control/faults"
    _control("PUT", faults, {"error_rates": {"429": 1.0}, "retry_after_s": 2})
    try:
        with pytest.raises(openai.RateLimitError) as limited:
            sync_client.chat.completions.create(
                model="fast", messages=[{"role": "user", "content": "x"}]
            )
        assert limited.value.code == "rate_limit_exceeded"
        assert limited.value.response.headers["retry-after"] == "2"
    finally:
        _control("DELETE", faults)
