"""Reading responses: headers, JSON bodies and SSE streams."""

import json

import pytest

from benchmarks.op import CacheStatus
from benchmarks.response import HeaderFacts, ProtocolError, StreamReader, read_json_body


def test_gateway_headers_are_read() -> None:
    flags = HeaderFacts.read(
        {"x-cache": "Coalesced", "x-degraded": "true", "x-budget-warning": "80%"}
    )
    assert flags == HeaderFacts(CacheStatus.COALESCED, degraded=True, budget_warning=True)


def test_absent_or_unknown_headers_mean_nothing() -> None:
    assert HeaderFacts.read({"x-cache": "maybe"}) == HeaderFacts(CacheStatus.NONE, False, False)


def test_json_body_gives_model_usage_and_degraded() -> None:
    body = {
        "model": "gpt-4o-mini",
        "usage": {"prompt_tokens": 12, "completion_tokens": 30},
        "degraded": True,
    }
    facts = read_json_body(json.dumps(body).encode())
    assert (facts.model, facts.prompt_tokens, facts.completion_tokens, facts.degraded) == (
        "gpt-4o-mini",
        12,
        30,
        True,
    )


@pytest.mark.parametrize("data", [b"not json", b"[1, 2]", b'{"model": '])
def test_malformed_json_body_is_a_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        read_json_body(data)


def _chunk(content: str | None, *, usage: dict[str, int] | None = None) -> bytes:
    choices = [] if content is None else [{"index": 0, "delta": {"content": content}}]
    return (
        b"data: " + json.dumps({"model": "m", "choices": choices, "usage": usage}).encode() + b"\n"
    )


def test_stream_reader_timestamps_content_chunks_only() -> None:
    reader = StreamReader()
    reader.feed(_chunk(""), 0.1)  # the role chunk carries no content
    reader.feed(b"\n", 0.1)
    reader.feed(_chunk("Hel"), 0.2)
    reader.feed(b": keep-alive comment\n", 0.25)
    reader.feed(_chunk("lo"), 0.3)
    reader.feed(_chunk(None, usage={"prompt_tokens": 5, "completion_tokens": 2}), 0.31)
    reader.feed(b"data: [DONE]\n", 0.32)
    facts = reader.finish()
    assert reader.token_times_s == [0.2, 0.3]
    assert (facts.model, facts.prompt_tokens, facts.completion_tokens) == ("m", 5, 2)


def test_a_stream_without_done_was_cut_short() -> None:
    reader = StreamReader()
    reader.feed(_chunk("Hel"), 0.2)
    with pytest.raises(ProtocolError, match="DONE"):
        reader.finish()


def test_a_garbage_event_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        StreamReader().feed(b'data: {"choices": [{"delta": {"content": "\\u00\n', 0.1)
