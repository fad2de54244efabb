"""Reading replay files: the gateway's access log and OpenAI batch input, and their errors."""

import json
import math
from pathlib import Path

import pytest

from benchmarks.replay import read_trace
from benchmarks.replay_trace import NO_MAX_TOKENS, TraceError


def line(**fields: object) -> dict[str, object]:
    """An access-log line as the gateway writes it, with ``fields`` changed."""
    base: dict[str, object] = {
        "ts": 1000.0, "tenant": "acme", "fingerprint": "aaaa", "model": "gpt-4o", "status": 200,
        "cache": "miss", "ms": 12.5, "endpoint": "chat", "stream": False,
        "prompt_version": "default", "max_tokens": 32, "temperature": 0, "prompt_tokens": 40,
        "output_tokens": 20, "internal": False,
    }  # fmt: skip
    return {**base, **fields}


def write_lines(path: Path, *records: object) -> Path:
    path.write_text("".join(r if isinstance(r, str) else json.dumps(r) + "\n" for r in records))
    return path


def test_an_access_log_keeps_arrivals_tenants_and_repetition(tmp_path: Path) -> None:
    log = write_lines(
        tmp_path / "access.log",
        line(ts=1000.5, fingerprint="aaaa"),
        line(ts=1000.0, fingerprint="bbbb", tenant="globex"),
        line(ts=1001.25, fingerprint="aaaa", cache="hit", stream=True),
        line(ts=1002.0, fingerprint="aaaa", tenant="globex"),
        line(ts=1003.0, endpoint="embeddings", model="text-embedding-3-small", stream=False,
             max_tokens=None, temperature=None, output_tokens=None),
    )  # fmt: skip
    trace = read_trace(log)
    assert trace.at_s is not None
    assert trace.at_s.tolist() == [0.0, 0.5, 1.25, 2.0, 3.0]
    assert [trace.tenants[t] for t in trace.tenant] == ["globex", "acme", "acme", "globex", "acme"]
    endpoints = [trace.endpoints[e] for e in trace.endpoint]
    assert endpoints == ["chat", "chat", "chat_stream", "chat", "embeddings"]
    request = trace.request.tolist()
    # A streamed repeat is the same request; the same fingerprint of another tenant is not.
    assert request[1] == request[2]
    assert len(set(request)) == 4
    assert trace.prompts is None
    assert trace.max_tokens.tolist()[-1] == NO_MAX_TOKENS
    assert math.isnan(trace.temperature[-1])


def test_lines_of_other_loggers_and_internal_calls_are_skipped(tmp_path: Path) -> None:
    log = write_lines(
        tmp_path / "gateway.log",
        "2026-12-07 10:00:00,001 4242 INFO reference_impl.serve listening on 127.0.0.1:8080\n",
        "2026-12-07 10:00:01,002 4242 INFO reference_impl.access " + json.dumps(line()) + "\n",
        "Traceback (most recent call last):\n",
        line(ts=1001.0, internal=True),
        "\n",
    )
    trace = read_trace(log)
    assert len(trace) == 1
    assert trace.skipped == 4


def test_max_tokens_is_the_longest_answer_recorded_for_the_request(tmp_path: Path) -> None:
    log = write_lines(
        tmp_path / "access.log",
        line(ts=1.0, output_tokens=None),  # a live stream: its length unknown
        line(ts=2.0, output_tokens=18),
        line(ts=3.0, output_tokens=25),
        line(ts=4.0, fingerprint="cccc", max_tokens=64, output_tokens=None),
        line(ts=5.0, fingerprint="dddd", max_tokens=None, output_tokens=None),
    )
    assert read_trace(log).max_tokens.tolist() == [25, 25, 25, 64, NO_MAX_TOKENS]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (line(ts="soon"), "access.log:2: field 'ts' must be a number, got 'soon'"),
        (line(tenant=None), "access.log:2: field 'tenant' is missing"),
        (line(endpoint="copilot"), "access.log:2: field 'endpoint': 'copilot' (stream False)"),
        (line(prompt_tokens=-1), "access.log:2: field 'prompt_tokens' must be >= 0, got -1"),
        (line(stream="yes"), "access.log:2: field 'stream' must be true or false, got 'yes'"),
        (line(max_tokens=True), "access.log:2: field 'max_tokens' must be an integer, got True"),
        ('{"ts": 1,\n', "access.log:2: not a JSON object"),
        ("x INFO reference_impl.access [1]\n", "access.log:2: not a JSON object"),
    ],
)  # fmt: skip
def test_a_malformed_line_names_the_file_the_line_and_the_field(
    tmp_path: Path, record: object, message: str
) -> None:
    log = write_lines(tmp_path / "access.log", line(), record)
    with pytest.raises(TraceError) as error:
        read_trace(log)
    assert str(error.value).startswith(str(tmp_path / message))


def test_a_file_without_requests_is_refused(tmp_path: Path) -> None:
    log = write_lines(tmp_path / "empty.log", "nothing to see\n")
    with pytest.raises(TraceError, match=r"empty\.log: no requests to replay"):
        read_trace(log)
    with pytest.raises(TraceError, match=r"missing\.log: cannot read the file"):
        read_trace(tmp_path / "missing.log")


def batch(custom_id: str, content: str, **body: object) -> dict[str, object]:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": content}]
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": messages, **body},
    }


def test_a_batch_file_keeps_its_prompts_and_has_no_times(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "batch.jsonl",
        batch("1", "Hello", max_tokens=50, temperature=0),
        batch("2", "Hello", max_tokens=50, temperature=0, stream=True),
        batch("3", "Hello", max_completion_tokens=10),
        {"custom_id": "4", "method": "POST", "url": "/v1/embeddings",
         "body": {"model": "text-embedding-3-small", "input": ["a", "b"]}},
    )  # fmt: skip
    trace = read_trace(path)
    assert trace.at_s is None
    assert trace.tenants == ("default",)
    assert [trace.endpoints[e] for e in trace.endpoint] == [
        "chat", "chat_stream", "chat", "embeddings",
    ]  # fmt: skip
    assert trace.request.tolist() == [0, 0, 1, 2]
    assert trace.max_tokens.tolist() == [50, 50, 10, NO_MAX_TOKENS]
    assert trace.prompts is not None
    assert trace.prompts[0] == batch("1", "Hello")["body"]["messages"]  # type: ignore[index]
    assert trace.prompts[2] == ["a", "b"]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({**batch("1", "x"), "url": "/v1/completions"}, "field 'url' must be one of"),
        ({**batch("1", "x"), "body": "hi"}, "field 'body' must be a JSON object"),
        (batch("1", "x", model=None), "field 'body.model' must be a non-empty string"),
        (batch("1", "x", messages=[]), "field 'body.messages' must be a non-empty list"),
        (batch("1", "x", max_tokens=0), "field 'body.max_tokens' must be an integer >= 1"),
        (batch("1", "x", temperature="hot"), "field 'body.temperature' must be a number"),
    ],
)
def test_a_malformed_batch_line_names_the_file_the_line_and_the_field(
    tmp_path: Path, record: object, message: str
) -> None:
    path = write_lines(tmp_path / "batch.jsonl", batch("0", "fine"), record)
    with pytest.raises(TraceError) as error:
        read_trace(path)
    assert str(error.value).startswith(f"{tmp_path / 'batch.jsonl'}:2: {message}")
