"""A malformed upstream stream event is never relayed: the client gets an error event, then
the stream ends, with no ``[DONE]`` (an errored stream has none)."""

import json

import openai
import pytest
from aiohttp import web

from reference_impl import create_app
from reference_impl.config import load_config


KEY = "sk-test-stream-integrity"
GOOD = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1,
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}],
}
FINISH = {**GOOD, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}


def _sse(data: bytes) -> bytes:
    return b"data: " + data + b"\n\n"


BROKEN_TAILS = {
    "not json": _sse(b"{not json"),
    "not an object": _sse(b"[1, 2]"),
    "not a chunk": _sse(json.dumps({"object": "chat.completion", "choices": []}).encode()),
}


def _upstream(tail: bytes, calls: list[int]) -> web.Application:
    """A provider that streams one good chunk, then ``tail``, then a finish and ``[DONE]``."""

    async def stream(request: web.Request) -> web.StreamResponse:
        calls.append(1)
        response = web.StreamResponse()
        response.content_type = "text/event-stream"
        await response.prepare(request)
        await response.write(_sse(json.dumps(GOOD).encode()))
        await response.write(tail)
        await response.write(_sse(json.dumps(FINISH).encode()) + _sse(b"[DONE]"))
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", stream)
    return app


async def _gateway(aiohttp_server, aiohttp_client, tail: bytes, calls: list[int]):
    upstream = await aiohttp_server(_upstream(tail, calls), host="127.0.0.1")
    config = load_config(
        None,
        overrides={
            "provider_url": str(upstream.make_url("/v1")),
            "tenants": [{"name": "one", "api_key": KEY}],
        },
        environ={},
    )
    return await aiohttp_client(create_app(config))


def _data(body: bytes) -> list[bytes]:
    return [event.removeprefix(b"data: ") for event in body.split(b"\n\n") if event.strip()]


@pytest.mark.parametrize("tail", BROKEN_TAILS.values(), ids=BROKEN_TAILS.keys())
async def test_a_malformed_event_ends_the_stream_with_an_error_and_no_done(
    aiohttp_server, aiohttp_client, tail
):
    calls: list[int] = []
    client = await _gateway(aiohttp_server, aiohttp_client, tail, calls)
    response = await client.post(
        "/v1/chat/completions",
        json={
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": True,
        },
        headers={"Authorization": f"Bearer {KEY}"},
    )
    body = await response.read()
    events = _data(body)
    assert json.loads(events[0])["choices"][0]["delta"]["content"] == "Hel"
    assert tail.strip() not in body
    assert b"[DONE]" not in body
    error = json.loads(events[1])
    assert error["error"]["code"] == "malformed_stream"
    assert len(events) == 2
    assert len(calls) == 1


async def test_the_openai_sdk_sees_an_api_error_not_a_json_error(aiohttp_server, aiohttp_client):
    client = await _gateway(aiohttp_server, aiohttp_client, BROKEN_TAILS["not json"], [])
    sdk = openai.AsyncOpenAI(base_url=str(client.make_url("/v1")), api_key=KEY, max_retries=0)
    contents = []

    async def read() -> None:
        stream = await sdk.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        async for chunk in stream:
            contents.append(chunk.choices[0].delta.content)  # noqa: PERF401 - up to the error

    with pytest.raises(openai.APIError, match="malformed"):
        await read()
    await sdk.close()
    assert contents == ["Hel"]


async def test_a_whole_stream_still_ends_with_done(aiohttp_server, aiohttp_client):
    client = await _gateway(aiohttp_server, aiohttp_client, b"", [])
    response = await client.post(
        "/v1/chat/completions",
        json={
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": True,
        },
        headers={"Authorization": f"Bearer {KEY}"},
    )
    events = _data(await response.read())
    assert events[-1] == b"[DONE]"
    assert [json.loads(e)["choices"][0].get("finish_reason") for e in events[:-1]] == [None, "stop"]
