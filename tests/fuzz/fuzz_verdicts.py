"""What a reply to a hostile request must be: a JSON object (an error in OpenAI's shape for a
4xx), or well-formed server-sent events for a stream, or Prometheus text for an authorised
scrape; never a 5xx, never late, never nothing (when the request was whole)."""

from __future__ import annotations

import json
from enum import StrEnum
from http import HTTPStatus

from fuzz_wire import Ending, Probe, Reply
from prometheus_client.parser import text_string_to_metric_families


class Problem(StrEnum):
    """Why a reply fails the suite."""

    HANG = "hang"
    """No whole response within the per-request deadline."""
    NO_ANSWER = "no answer"
    """The connection closed without a response to a whole request."""
    MALFORMED_RESPONSE = "malformed response"
    SERVER_ERROR = "5xx"
    NOT_JSON = "non-JSON"
    MALFORMED_SSE = "malformed SSE"
    MALFORMED_METRICS = "malformed metrics"
    ERROR_SHAPE = "error shape"
    """A 4xx whose JSON is not ``{"error": {"message": str, "type": str, ...}}``."""
    NO_RETRY_AFTER = "429 without Retry-After"


def judge(probe: Probe, reply: Reply) -> Problem | None:  # noqa: PLR0911 - a rule a return
    """The first problem of ``reply`` to ``probe``, or None when it is as it must be."""
    if reply.failure == "timeout":
        return Problem.HANG
    if reply.failure is not None and reply.failure.startswith("malformed"):
        return Problem.MALFORMED_RESPONSE
    if reply.status is None:
        return Problem.NO_ANSWER if probe.ending is Ending.READ else None
    if reply.status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        return Problem.SERVER_ERROR
    if reply.status == HTTPStatus.TOO_MANY_REQUESTS and not reply.header("retry-after"):
        return Problem.NO_RETRY_AFTER
    if probe.is_head:
        return None
    if reply.status == HTTPStatus.OK and reply.content_type == "text/event-stream":
        return None if sse_problem(reply.body) is None else Problem.MALFORMED_SSE
    if probe.metrics_authorised and reply.status == HTTPStatus.OK:
        return None if metrics_problem(reply.body) is None else Problem.MALFORMED_METRICS
    return _json_problem(reply)


def _json_problem(reply: Reply) -> Problem | None:
    if reply.content_type != "application/json":
        return Problem.NOT_JSON
    try:
        document = json.loads(reply.body)
    except ValueError:
        return Problem.NOT_JSON
    if not isinstance(document, dict):
        return Problem.NOT_JSON
    if reply.status is not None and reply.status >= HTTPStatus.BAD_REQUEST:
        return None if is_error_shape(document) else Problem.ERROR_SHAPE
    return None


def is_error_shape(document: dict[str, object]) -> bool:
    """Whether ``document`` is an error in OpenAI's shape."""
    error = document.get("error")
    return (
        isinstance(error, dict)
        and isinstance(error.get("message"), str)
        and isinstance(error.get("type"), str)
    )


def sse_problem(body: bytes) -> str | None:
    """What is wrong with a chat completion's event stream, or None.

    Well-formed: UTF-8 events, each ended by a blank line, made of ``field: value`` lines
    (comments allowed); every ``data`` is JSON or ``[DONE]``; the stream ends with
    ``[DONE]`` after ``chat.completion.chunk`` objects, or, cut midway, with an error object.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8"
    if not text.endswith("\n\n"):
        return "the last event is not ended by a blank line"
    payloads = []
    for event in text[:-2].split("\n\n"):
        data = []
        for line in event.split("\n"):
            field, colon, value = line.partition(":")
            if line.startswith(":"):
                continue
            if not colon or field not in {"data", "event", "id", "retry"}:
                return f"not a field line: {line[:60]!r}"
            if field == "data":
                data.append(value.removeprefix(" "))
        if data:
            payloads.append("\n".join(data))
    return _payloads_problem(payloads)


def _payloads_problem(payloads: list[str]) -> str | None:  # noqa: PLR0911 - a rule a return
    if not payloads:
        return "no data events"
    *chunks, last = payloads
    for payload in chunks:
        try:
            chunk = json.loads(payload)
        except ValueError:
            return f"data is not JSON: {payload[:60]!r}"
        if not isinstance(chunk, dict) or chunk.get("object") != "chat.completion.chunk":
            return f"data before the end is not a chunk: {payload[:60]!r}"
    if last == "[DONE]":
        return None
    try:
        ending = json.loads(last)
    except ValueError:
        return f"the stream ends with neither [DONE] nor JSON: {last[:60]!r}"
    if isinstance(ending, dict) and is_error_shape(ending):
        return None
    return "the stream ends with neither [DONE] nor an error"


def metrics_problem(body: bytes) -> str | None:
    """What is wrong with a Prometheus text exposition, or None."""
    try:
        for _ in text_string_to_metric_families(body.decode("utf-8")):
            pass
    except (UnicodeDecodeError, ValueError, IndexError, KeyError) as exc:
        return f"not Prometheus text: {exc}"
    return None
