"""``POST /v1/chat/completions``: JSON or server-sent events, through every pattern."""

from __future__ import annotations

import json
from http import HTTPStatus

from aiohttp import web

from .answer import Answer
from .estimate import prompt_tokens_upper
from .exchange import Exchange, Route, answer_headers, json_answer, start_exchange
from .flags_chat import flag_chat_request, settle_flags
from .keys import GATEWAY
from .pipeline import Accounting, flight_answer, handle
from .singleflight import Ticket
from .sse import is_usage_only, replay_as_sse


CHAT = Route(name="chat", path="v1/chat/completions", kind="chat", sampled=True, can_degrade=True)
SSE_HEADERS = {"Cache-Control": "no-cache"}


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """Answer like OpenAI; the patterns of ``pipeline`` decide how."""
    raw = await request.read()
    data, chat = request.app[GATEWAY].chat_bodies.parse(raw)
    flagged = flag_chat_request(request, data)
    sent: bytes | None = raw
    if flagged is not None and flagged.model is not None:
        data, sent = {**data, "model": flagged.model}, None
    exchange = start_exchange(
        request,
        CHAT,
        data,
        raw=sent,
        prompt_tokens=prompt_tokens_upper(data["messages"]),
        max_output_tokens=chat.max_output_tokens,
        stream=chat.stream,
    )
    if flagged is not None:
        settle_flags(request, exchange, flagged)
    if exchange.tenant.store_raw_prompts:
        exchange.gateway.prompts.offer(
            tenant=exchange.tenant.name,
            fingerprint=exchange.fingerprint(),
            messages=data["messages"],
        )
    events = EventWriter(request, exchange, include_usage=chat.include_usage)
    async with Accounting(exchange) as outcome:
        served = await handle(exchange, events)
        if isinstance(served, Ticket):
            served = await flight_answer(exchange, served, events if exchange.stream else None)
        response = await _response(exchange, served, events, include_usage=chat.include_usage)
        outcome.responded(exchange, response)
    return response


async def _response(
    exchange: Exchange, answer: Answer, events: EventWriter, *, include_usage: bool
) -> web.StreamResponse:
    """The client's response: the end of a stream already started, a whole answer replayed
    as a stream to a client that asked for one, or JSON."""
    if events.started:
        return await events.finish(answer)
    if exchange.stream and answer.status == HTTPStatus.OK:
        return _replayed(exchange, answer, include_usage=include_usage)
    return json_answer(exchange, answer)


class EventWriter:
    """Writes a stream's events to the client as they come; the response starts with the
    first event, so an answer that never streamed can still be sent whole."""

    def __init__(self, request: web.Request, exchange: Exchange, *, include_usage: bool) -> None:
        self._request = request
        self._exchange = exchange
        self._include_usage = include_usage
        self._response: web.StreamResponse | None = None

    @property
    def started(self) -> bool:
        """Whether events (and so the status and headers) were already sent."""
        return self._response is not None

    async def emit(self, event: bytes) -> None:
        """Send one event; the usage event only if the client asked for it."""
        if not self._include_usage and is_usage_only(event):
            return
        if self._response is None:
            empty = Answer(status=HTTPStatus.OK, body=b"")
            headers = {**SSE_HEADERS, **answer_headers(self._exchange, empty)}
            self._response = web.StreamResponse(headers=headers)
            self._response.content_type = "text/event-stream"
            await self._response.prepare(self._request)
        await self._response.write(event)

    async def finish(self, answer: Answer) -> web.StreamResponse:
        """End the stream; a stream cut midway ends with an error event, not a [DONE]."""
        response = self._response
        if response is None:
            raise RuntimeError("finish() before any event was sent")
        if answer.status != HTTPStatus.OK:
            self._exchange.status = answer.status
            await response.write(b"data: " + answer.body + b"\n\n")
        await response.write_eof()
        return response


def _replayed(exchange: Exchange, answer: Answer, *, include_usage: bool) -> web.Response:
    """A whole answer (cached, coalesced from another worker, degraded) as an SSE stream."""
    events = replay_as_sse(json.loads(answer.body), include_usage=include_usage)
    response = web.Response(
        body=b"".join(events), headers={**SSE_HEADERS, **answer_headers(exchange, answer)}
    )
    response.content_type = "text/event-stream"
    return response
