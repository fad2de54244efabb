"""The gateway's access-log line holds what a replay needs to rebuild the workload."""

import json
import logging
import time

import pytest
from gateway_support import auth, chat, fast_provider, gateway_config, unique_messages

from reference_impl import create_app


@pytest.fixture
async def logged(stack, aiohttp_client, caplog):
    """An in-process gateway with its access log on; returns the client and the lines."""
    fast_provider(stack)
    caplog.set_level(logging.INFO, logger="reference_impl.access")
    client = await aiohttp_client(create_app(gateway_config(stack)))

    def lines():
        return [json.loads(r.getMessage()) for r in caplog.records if r.name.endswith("access")]

    return client, lines


async def test_a_chat_line_has_the_arrival_the_parameters_and_the_usage(logged):
    client, lines = logged
    before = time.time()
    body = chat(unique_messages(), max_tokens=12, temperature=0)
    response = await client.post("/v1/chat/completions", json=body, headers=auth())
    usage = (await response.json())["usage"]
    (line,) = lines()
    assert before <= line["ts"] <= time.time()
    assert line["endpoint"] == "chat"
    assert line["stream"] is False
    assert line["prompt_version"] == "default"
    assert line["max_tokens"] == 12
    assert line["temperature"] == 0
    assert line["prompt_tokens"] == usage["prompt_tokens"]
    assert line["output_tokens"] == usage["completion_tokens"]
    assert line["internal"] is False
    assert line["cache"] == "miss"


async def test_absent_parameters_are_null_and_a_stream_from_the_cache_has_its_usage(logged):
    client, lines = logged
    body = chat(unique_messages(), temperature=0)
    first = await client.post("/v1/chat/completions", json=body, headers=auth())
    usage = (await first.json())["usage"]
    streamed = await client.post(
        "/v1/chat/completions", json={**body, "stream": True}, headers=auth()
    )
    await streamed.read()
    versioned = await client.post(
        "/v1/chat/completions", json=body, headers={**auth(), "x-prompt-version": "v2"}
    )
    await versioned.read()
    plain, stream, other_version = lines()
    assert plain["max_tokens"] is None
    assert (stream["stream"], stream["cache"]) == (True, "hit")
    assert stream["prompt_tokens"] == usage["prompt_tokens"]
    assert stream["output_tokens"] == usage["completion_tokens"]
    # The same messages under another prompt version: one fingerprint, another cache entry.
    assert other_version["prompt_version"] == "v2"
    assert other_version["fingerprint"] == plain["fingerprint"]
    assert other_version["cache"] == "miss"


async def test_an_embeddings_line_has_no_output_tokens(logged):
    client, lines = logged
    body = {"model": "text-embedding-3-small", "input": "a document"}
    response = await client.post("/v1/embeddings", json=body, headers=auth())
    usage = (await response.json())["usage"]
    (line,) = lines()
    assert line["endpoint"] == "embeddings"
    assert line["max_tokens"] is None
    assert line["temperature"] is None
    assert line["prompt_tokens"] == usage["prompt_tokens"]
    assert line["output_tokens"] is None
