"""The fuzz suite's judge: what makes a reply fail, and what it lets pass."""

from __future__ import annotations

import json

import pytest
from fuzz_verdicts import Problem, judge, metrics_problem, sse_problem
from fuzz_wire import Ending, Probe, Reply


POST = Probe(kind="test", parts=(b"POST /v1/chat/completions HTTP/1.1\r\n\r\n",))
HEAD = Probe(kind="test", parts=(b"HEAD /healthz HTTP/1.1\r\n\r\n",))
SCRAPE = Probe(kind="test", parts=(b"GET /metrics HTTP/1.1\r\n\r\n",), metrics_authorised=True)
JSON = (("content-type", "application/json; charset=utf-8"),)
ERROR = json.dumps({"error": {"message": "no", "type": "invalid_request_error"}}).encode()
CHUNK = json.dumps({"object": "chat.completion.chunk", "choices": []})
METRICS = b"# HELP up Up.\n# TYPE up gauge\nup 1\n"


def _reply(status: int | None, body: bytes = b"{}", headers=JSON, failure=None) -> Reply:
    return Reply(status=status, headers=headers, body=body, failure=failure)


def _sse(*payloads: str) -> Reply:
    body = "".join(f"data: {payload}\n\n" for payload in payloads).encode()
    return _reply(200, body, (("content-type", "text/event-stream"),))


@pytest.mark.parametrize(
    ("probe", "reply"),
    [
        (POST, _reply(200)),
        (POST, _reply(400, ERROR)),
        (POST, _reply(429, ERROR, (*JSON, ("retry-after", "1")))),
        (POST, _sse(CHUNK, CHUNK, "[DONE]")),
        (POST, _sse(CHUNK, json.dumps({"error": {"message": "cut", "type": "x"}}))),
        (HEAD, _reply(405, b"")),
        (SCRAPE, _reply(200, METRICS, (("content-type", "text/plain; version=0.0.4"),))),
        (Probe(kind="test", parts=(b"POST",), ending=Ending.CLOSE), Reply()),
        (Probe(kind="test", parts=(b"POST",), ending=Ending.HALF_CLOSE), _reply(None, b"", (),
                                                                                "closed")),
    ],
)  # fmt: skip
def test_good_replies_pass(probe: Probe, reply: Reply) -> None:
    assert judge(probe, reply) is None


@pytest.mark.parametrize(
    ("probe", "reply", "problem"),
    [
        (POST, _reply(None, failure="timeout"), Problem.HANG),
        (POST, _reply(None, b"", (), "closed"), Problem.NO_ANSWER),
        (POST, _reply(None, failure="malformed response: bad status line"),
         Problem.MALFORMED_RESPONSE),
        (POST, _reply(500, ERROR), Problem.SERVER_ERROR),
        (POST, _reply(503, ERROR, (*JSON, ("retry-after", "1"))), Problem.SERVER_ERROR),
        (HEAD, _reply(502, b""), Problem.SERVER_ERROR),
        (POST, _reply(400, b"<html>bad</html>", (("content-type", "text/html"),)),
         Problem.NOT_JSON),
        (POST, _reply(417, b"Unknown Expect", (("content-type", "text/plain"),)),
         Problem.NOT_JSON),
        (POST, _reply(400, b"not json"), Problem.NOT_JSON),
        (POST, _reply(200, b"[1, 2]"), Problem.NOT_JSON),
        (POST, _reply(400, b'{"detail": "no"}'), Problem.ERROR_SHAPE),
        (POST, _reply(429, ERROR), Problem.NO_RETRY_AFTER),
        (POST, _sse(CHUNK, CHUNK), Problem.MALFORMED_SSE),
        (POST, _reply(200, METRICS, (("content-type", "text/plain"),)), Problem.NOT_JSON),
        (SCRAPE, _reply(200, b"up{ 1\n", (("content-type", "text/plain"),)),
         Problem.MALFORMED_METRICS),
    ],
)  # fmt: skip
def test_bad_replies_fail(probe: Probe, reply: Reply, problem: Problem) -> None:
    assert judge(probe, reply) is problem


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"data: [DONE]\n",
        b"data: [DONE]\n\ndata: " + CHUNK.encode() + b"\n\n",
        b"data: {not json}\n\ndata: [DONE]\n\n",
        b"data: " + json.dumps({"object": "chat.completion"}).encode() + b"\n\ndata: [DONE]\n\n",
        b"garbage line\n\ndata: [DONE]\n\n",
        b"data: " + CHUNK.encode() + b"\n\ndata: {}\n\n",
        b"data: \xff\n\n",
    ],
)
def test_malformed_event_streams_are_named(body: bytes) -> None:
    assert sse_problem(body) is not None


def test_a_stream_may_carry_comments_and_other_fields() -> None:
    body = f": keep-alive\n\nevent: message\nid: 1\ndata: {CHUNK}\n\ndata: [DONE]\n\n".encode()
    assert sse_problem(body) is None


def test_metrics_text_is_parsed() -> None:
    assert metrics_problem(METRICS) is None
    assert metrics_problem(b'up{a="1"} one\n') is not None
