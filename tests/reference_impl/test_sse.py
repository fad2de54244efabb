"""SSE: splitting under any chunking, assembling streams, replaying completions as streams."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx2
import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reference_impl.sse import (
    SseSplitter,
    StreamAssembler,
    carries_content,
    event_data,
    is_usage_only,
    replay_as_sse,
)


USAGE = {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}


def completion(*contents: str | None, usage: dict[str, int] | None = USAGE) -> dict[str, Any]:
    """A ``chat.completion`` shaped like the provider's, one choice per content."""
    body: dict[str, Any] = {
        "id": "chatcmpl-abc",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": index,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
            for index, content in enumerate(contents)
        ],
        "system_fingerprint": "fp_123",
    }
    if usage is not None:
        body["usage"] = usage
    return body


def assemble(events: list[bytes]) -> StreamAssembler:
    assembler = StreamAssembler()
    for event in events:
        assembler.feed(event)
    return assembler


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


line_text = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"), max_size=20
)
event_strategy = st.tuples(
    st.lists(line_text.map(lambda text: f"data: {text}"), min_size=1, max_size=3),
    st.sampled_from(["\n", "\r\n", "\r"]),
).map(lambda event: "".join(line + event[1] for line in event[0]).encode() + event[1].encode())


@given(st.lists(event_strategy, max_size=6), st.lists(st.integers(min_value=0), max_size=12))
def test_splitter_gives_the_same_events_under_any_chunking(
    events: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(events)
    splitter = SseSplitter()
    received = [event for piece in chunked(stream, cuts) for event in splitter.feed(piece)]
    assert [event_data(event) for event in received] == [event_data(event) for event in events]
    assert b"".join(received) + splitter.pending == stream
    if b"\r" not in stream:
        assert received == events


@given(st.integers(min_value=0))
def test_an_unfinished_event_stays_pending(cut: int) -> None:
    stream = b"data: one\n\ndata: tw"
    splitter = SseSplitter()
    received = [event for piece in chunked(stream, [cut]) for event in splitter.feed(piece)]
    assert received == [b"data: one\n\n"]
    assert splitter.pending == b"data: tw"


def test_events_ending_in_a_lone_cr_are_given_out_at_once() -> None:
    splitter = SseSplitter()
    assert splitter.feed(b"data: a\r\r") == [b"data: a\r\r"]
    later = splitter.feed(b"\ndata: b\r\n\r\n")
    assert later == [b"\ndata: b\r\n\r\n"]
    assert [event_data(event) for event in later] == [b"b"]


def test_event_data_joins_data_lines_and_skips_comments() -> None:
    assert event_data(b': keep-alive\ndata: {"a":\ndata:1}\n\n') == b'{"a":\n1}'
    assert event_data(b": keep-alive\n\n") is None
    assert event_data(b"data: [DONE]\n\n") == b"[DONE]"


@given(
    st.lists(st.text(max_size=80) | st.none(), min_size=1, max_size=3),
    st.integers(min_value=1, max_value=40),
    st.booleans(),
)
def test_replay_then_assemble_gives_the_completion_back(
    contents: list[str | None], chunk_chars: int, include_usage: bool
) -> None:
    original = completion(*contents)
    events = replay_as_sse(original, include_usage=include_usage, chunk_chars=chunk_chars)
    rebuilt = assemble(events).completion()
    expected = original if include_usage else completion(*contents, usage=None)
    assert rebuilt == expected


def test_tool_calls_and_logprobs_survive_a_replay() -> None:
    original = completion(None)
    original["choices"][0]["message"]["tool_calls"] = [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}},
        {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
    ]
    original["choices"][0]["finish_reason"] = "tool_calls"
    original["choices"][0]["logprobs"] = {"content": [{"token": "a", "logprob": -0.1}]}
    assert assemble(replay_as_sse(original, include_usage=True)).completion() == original


def test_a_stream_split_into_tool_call_fragments_is_joined() -> None:
    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        body = {"id": "c", "created": 1, "model": "m", "choices": [choice]}
        return f"data: {json.dumps(body)}\n\n".encode()

    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "look"}}
    events = [
        chunk({"role": "assistant", "content": None}),
        chunk({"tool_calls": [{**call, "function": {"name": "look", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"q":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"x"}'}}]}),
        chunk({}, "tool_calls"),
    ]
    built = assemble(events).completion()
    assert built is not None
    message = built["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "look", "arguments": '{"q":"x"}'}}
    ]


def test_a_cut_stream_assembles_to_none() -> None:
    events = replay_as_sse(completion("Hello, world", "Bonjour"), include_usage=True)
    finishes = [index for index, event in enumerate(events) if b'"finish_reason":"stop"' in event]
    assert assemble(events[: finishes[-1]]).completion() is None
    assert assemble([]).completion() is None


def test_finish_reasons_of_every_choice_complete_the_stream_without_done() -> None:
    events = replay_as_sse(completion("Hello", "Hi"), include_usage=False)
    built = assemble(events[:-1]).completion()
    assert built is not None
    assert [choice["message"]["content"] for choice in built["choices"]] == ["Hello", "Hi"]


@pytest.mark.parametrize(
    "bad_event",
    [b"data: {not json\n\n", b'data: {"error": {"message": "overloaded"}}\n\n'],
    ids=["malformed", "error-event"],
)
def test_a_broken_stream_assembles_to_none(bad_event: bytes) -> None:
    events = replay_as_sse(completion("Hello"), include_usage=False)
    assert assemble([events[0], bad_event, *events[1:]]).completion() is None


def test_usage_is_known_as_soon_as_its_chunk_arrived() -> None:
    events = replay_as_sse(completion("Hello"), include_usage=True)
    usage_at = next(index for index, event in enumerate(events) if is_usage_only(event))
    assembler = assemble(events[:usage_at])
    assert assembler.usage is None
    assembler.feed(events[usage_at])
    assert assembler.usage == USAGE
    assert assembler.completion() is not None


def test_is_usage_only_recognises_the_usage_chunk_alone() -> None:
    events = replay_as_sse(completion("Hello"), include_usage=True)
    expected = [False] * (len(events) - 2) + [True, False]
    assert [is_usage_only(event) for event in events] == expected
    assert [is_usage_only(event_data(event) or b"") for event in events] == expected
    assert not is_usage_only(b'data: {"usage": \n\n')


def test_replay_rejects_empty_pieces() -> None:
    with pytest.raises(ValueError, match="chunk_chars"):
        replay_as_sse(completion("x"), include_usage=False, chunk_chars=0)


async def test_the_openai_sdk_reads_a_replayed_stream() -> None:
    original = completion("The capital of France is Paris. It has been for centuries.")
    events = replay_as_sse(original, include_usage=True, chunk_chars=7)

    def provider(request: httpx2.Request) -> httpx2.Response:
        sse = {"content-type": "text/event-stream"}
        return httpx2.Response(200, headers=sse, content=b"".join(events))

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(provider)) as http:
        client = openai.AsyncOpenAI(api_key="test", base_url="http://gw.test/v1", http_client=http)
        async with client.chat.completions.stream(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Capital of France?"}],
            stream_options={"include_usage": True},
        ) as stream:
            final = await stream.get_final_completion()
    assert final.choices[0].message.content == original["choices"][0]["message"]["content"]
    assert final.choices[0].finish_reason == "stop"
    assert final.usage is not None
    assert final.usage.model_dump(exclude_none=True) == USAGE


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        ({"content": "he"}, True),
        ({"refusal": "no"}, True),
        ({"tool_calls": [{"index": 0, "function": {"name": "f"}}]}, True),
        ({"role": "assistant", "content": "", "refusal": None}, False),
        ({"tool_calls": []}, False),
        ({}, False),
    ],
)
def test_carries_content_tells_tokens_from_role_and_finish_chunks(
    delta: dict[str, Any], expected: bool
) -> None:
    chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]}
    assert carries_content(chunk) is expected


@pytest.mark.parametrize(
    "chunk",
    [
        {"choices": []},
        {"choices": [{"index": 0}]},
        {"choices": [{"index": 0, "delta": "text"}]},
        {"choices": ["text"]},
        {"choices": "text"},
        {},
    ],
)
def test_carries_content_is_false_for_chunks_without_a_delta(chunk: dict[str, Any]) -> None:
    assert carries_content(chunk) is False
