"""POST /v1/chat/completions over HTTP: JSON, SSE, n > 1, timing, rate limits."""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Any

import pytest
from provider_support import AUTH, Client, chat_body, control, post_json, read_sse
from pydantic import BaseModel

from stack.provider import tokens


async def test_json_response_has_the_openai_shape(client: Client) -> None:
    body = chat_body(max_tokens=100)
    async with client.post("/v1/chat/completions", json=body, headers=AUTH) as response:
        assert response.status == 200
        assert response.headers["x-request-id"].startswith("req_")
        assert int(response.headers["openai-processing-ms"]) >= 5
        assert "x-ratelimit-limit-requests" not in response.headers  # no limit configured
        data = await response.json()
    assert data["id"].startswith("chatcmpl-")
    assert data["object"] == "chat.completion"
    assert isinstance(data["created"], int)
    assert data["model"] == "fast"
    assert data["system_fingerprint"].startswith("fp_")
    [choice] = data["choices"]
    assert choice["index"] == 0
    assert choice["logprobs"] is None
    assert choice["finish_reason"] == "stop"
    message = choice["message"]
    assert (message["role"], message["refusal"]) == ("assistant", None)
    usage = data["usage"]
    assert usage["prompt_tokens"] == tokens.chat_prompt_tokens(body["messages"])
    assert usage["completion_tokens"] == tokens.count(message["content"])
    assert 5 <= usage["completion_tokens"] <= 20
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


async def test_same_request_same_content_and_max_tokens_cuts_it(client: Client) -> None:
    _, first = await post_json(client, "/v1/chat/completions", chat_body())
    _, again = await post_json(client, "/v1/chat/completions", chat_body())
    _, capped = await post_json(client, "/v1/chat/completions", chat_body(max_completion_tokens=2))
    _, other = await post_json(client, "/v1/chat/completions", chat_body(text="Something else"))
    text = first["choices"][0]["message"]["content"]
    assert again["choices"][0]["message"]["content"] == text
    assert first["id"] != again["id"]
    assert other["choices"][0]["message"]["content"] != text
    assert capped["usage"]["completion_tokens"] == 2
    assert capped["choices"][0]["finish_reason"] == "length"
    assert text.startswith(capped["choices"][0]["message"]["content"])


async def test_stream_sends_chunks_in_order_with_usage_and_done(client: Client) -> None:
    body = chat_body(stream=True, stream_options={"include_usage": True})
    events = await read_sse(client, body)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert len({(c["id"], c["created"], c["model"]) for c in chunks}) == 1
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    *middle, last, usage_chunk = chunks[1:]
    assert all(c["usage"] is None for c in chunks[:-1])
    pieces = [c["choices"][0]["delta"]["content"] for c in middle]
    assert all(c["choices"][0]["finish_reason"] is None for c in middle)
    assert all(len(tokens.encode(piece)) == 1 for piece in pieces)
    assert last["choices"][0]["delta"] == {}
    assert last["choices"][0]["finish_reason"] == "stop"
    assert usage_chunk["choices"] == []
    usage = usage_chunk["usage"]
    assert usage["completion_tokens"] == len(pieces)
    assert usage["prompt_tokens"] == tokens.chat_prompt_tokens(body["messages"])
    _, whole = await post_json(client, "/v1/chat/completions", chat_body())
    assert "".join(pieces) == whole["choices"][0]["message"]["content"]


async def test_stream_without_usage_has_no_usage_field(client: Client) -> None:
    events = await read_sse(client, chat_body(stream=True, max_tokens=3))
    chunks = [json.loads(event) for event in events[:-1]]
    assert events[-1] == "[DONE]"
    assert len(chunks) == 1 + 3 + 1
    assert all("usage" not in chunk for chunk in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


async def test_n_choices_differ_and_are_all_counted(client: Client) -> None:
    status, data = await post_json(client, "/v1/chat/completions", chat_body(n=3))
    assert status == 200
    choices = data["choices"]
    assert [c["index"] for c in choices] == [0, 1, 2]
    assert len({c["message"]["content"] for c in choices}) == 3
    produced = sum(tokens.count(c["message"]["content"]) for c in choices)
    assert data["usage"]["completion_tokens"] == produced


async def test_n_choices_stream_interleaved(client: Client) -> None:
    body = chat_body(n=2, stream=True, stream_options={"include_usage": True})
    chunks = [json.loads(event) for event in (await read_sse(client, body))[:-1]]
    per_choice: dict[int, list[dict[str, Any]]] = {0: [], 1: []}
    for chunk in chunks[:-1]:
        [choice] = chunk["choices"]
        per_choice[choice["index"]].append(choice)
    contents = 0
    for choices in per_choice.values():
        assert choices[0]["delta"]["role"] == "assistant"
        assert choices[-1]["finish_reason"] == "stop"
        contents += len(choices) - 2
    assert chunks[-1]["usage"]["completion_tokens"] == contents


class Answer(BaseModel):
    city: str
    population: int
    landmarks: list[str]


async def test_structured_output_matches_the_schema(client: Client) -> None:
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": Answer.model_json_schema(), "strict": True},
    }
    _, data = await post_json(
        client, "/v1/chat/completions", chat_body(response_format=response_format)
    )
    content = data["choices"][0]["message"]["content"]
    Answer.model_validate_json(content)
    assert data["usage"]["completion_tokens"] == tokens.count(content)
    _, as_object = await post_json(
        client, "/v1/chat/completions", chat_body(response_format={"type": "json_object"})
    )
    assert isinstance(json.loads(as_object["choices"][0]["message"]["content"]), dict)


async def test_tokens_arrive_on_the_latency_models_schedule(client: Client) -> None:
    # "exact": ttft 30 ms, 2 ms per token, no jitter
    started = time.perf_counter()
    body = chat_body(model="exact", stream=True, max_tokens=10)
    async with client.post("/v1/chat/completions", json=body, headers=AUTH) as response:
        arrivals = [
            time.perf_counter() - started
            async for line in response.content
            if b'"delta":{"content":"' in line
        ]
    assert len(arrivals) == 10
    assert arrivals[0] >= 0.028
    assert arrivals[-1] >= 0.030 + 9 * 0.002 - 0.001  # tokens are never early (late ones batch)
    started = time.perf_counter()
    status, _ = await post_json(
        client, "/v1/chat/completions", chat_body(model="exact", max_tokens=10)
    )
    assert status == 200
    assert time.perf_counter() - started >= 0.030 + 9 * 0.002 - 0.002


@pytest.mark.parametrize("limit", ["rpm", "tpm"])
async def test_429_with_retry_after_once_the_limit_is_used(client: Client, limit: str) -> None:
    config = await control(client, "GET", "config")
    config["models"][0] |= {"rpm": 2} if limit == "rpm" else {"tpm": 100}
    await control(client, "PUT", "config", config)
    body = chat_body(max_tokens=40)  # costs ~ prompt + 40 tokens
    async with client.post("/v1/chat/completions", json=body, headers=AUTH) as response:
        assert response.status == 200
        kind = "requests" if limit == "rpm" else "tokens"
        assert response.headers[f"x-ratelimit-limit-{kind}"] in {"2", "100"}
    statuses = []
    for _ in range(2):
        async with client.post("/v1/chat/completions", json=body, headers=AUTH) as response:
            statuses.append(response.status)
            if response.status == 429:
                error = (await response.json())["error"]
                retry_after = int(response.headers["retry-after"])
                retry_after_ms = int(response.headers["retry-after-ms"])
    assert statuses[-1] == 429
    assert error["code"] == "rate_limit_exceeded"
    assert error["type"] == kind
    assert kind in error["message"]
    assert retry_after >= 1
    assert retry_after_ms > 0
    assert retry_after == max(1, math.ceil(retry_after_ms / 1000))
    stats = await control(client, "GET", "stats")
    assert stats["models"]["fast"]["status"]["429"] >= 1


async def test_slots_queue_requests_fifo_and_count_them_in_flight(client: Client) -> None:
    config = await control(client, "GET", "config")
    config["models"][1] |= {"slots": 1}  # "exact": 30 ms ttft, 2 ms per token
    await control(client, "PUT", "config", config)
    body = chat_body(model="exact", max_tokens=1)
    started = time.perf_counter()
    results = await asyncio.gather(
        *(post_json(client, "/v1/chat/completions", body) for _ in range(3))
    )
    elapsed = time.perf_counter() - started
    assert [status for status, _ in results] == [200, 200, 200]
    assert elapsed >= 3 * 0.030
    stats = await control(client, "GET", "stats")
    assert stats["models"]["exact"]["max_in_flight"] == 3
    assert stats["models"]["exact"]["in_flight"] == 0


async def test_a_client_that_goes_away_frees_its_slot(client: Client) -> None:
    config = await control(client, "GET", "config")
    config["models"].append(
        {"name": "one", "ttft_ms": 5, "tpot_ms": 5, "jitter": 0, "slots": 1}
        | {"output_tokens_min": 200, "output_tokens_max": 200}  # a 1 s stream
    )
    await control(client, "PUT", "config", config)
    response = await client.post(
        "/v1/chat/completions", json=chat_body(model="one", stream=True), headers=AUTH
    )
    await response.content.readline()
    response.close()
    started = time.perf_counter()
    status, _ = await post_json(
        client, "/v1/chat/completions", chat_body(model="one", max_tokens=1)
    )
    assert status == 200
    assert time.perf_counter() - started < 0.5  # did not wait for the abandoned stream
    stats = await control(client, "GET", "stats")
    assert stats["models"]["one"]["completion_tokens"] < 200 + 1
