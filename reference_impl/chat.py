"""``POST /v1/chat/completions``: JSON or server-sent events, through every pattern."""

from __future__ import annotations

import json
from http import HTTPStatus

from aiohttp import web

from .answer import Answer
from .estimate import prompt_tokens_upper
from .pipeline import Exchange, Route, answer_headers, handle, json_answer, start_exchange
from .singleflight import Ticket
from .sse import is_usage_only, replay_as_sse
from .validation import ChatBody, read_json_object, validate


CHAT = Route(name="chat", path="v1/chat/completions", can_degrade=True)
SSE_HEADERS = {"Cache-Control": "no-cache"}


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """Answer like OpenAI; the patterns of ``pipeline`` decide how."""
    raw, data = await read_json_object(request)
    chat = validate(ChatBody, data)
    exchange = start_exchange(
        request,
        CHAT,
        data,
        raw=raw,
        prompt_tokens=prompt_tokens_upper(data["messages"]),
        max_output_tokens=chat.max_output_tokens,
        stream=chat.stream,
    )
    if exchange.tenant.store_raw_prompts:
        exchange.gateway.prompts.offer(
            tenant=exchange.tenant.name,
            fingerprint=exchange.fingerprint(),
            messages=data["messages"],
        )

    async def whole(answer: Answer) -> web.StreamResponse:
        if exchange.stream and answer.status == HTTPStatus.OK:
            return _replayed(exchange, answer, chat.include_usage)
        return json_answer(exchange, answer)

    async def from_flight(ticket: Ticket) -> web.StreamResponse:
        if exchange.stream:
            return await _streamed(request, exchange, ticket, chat.include_usage)
        return json_answer(exchange, await ticket.answer())

    return await handle(exchange, whole=whole, from_flight=from_flight)


async def _streamed(
    request: web.Request, exchange: Exchange, ticket: Ticket, include_usage: bool
) -> web.StreamResponse:
    """Relay the flight's events as they come; replay its answer if it emitted none."""
    response: web.StreamResponse | None = None
    async for event in ticket.chunks():
        if not include_usage and is_usage_only(event):
            continue
        if response is None:
            response = web.StreamResponse(headers={**SSE_HEADERS, **exchange_headers(exchange)})
            response.content_type = "text/event-stream"
            await response.prepare(request)
        await response.write(event)
    answer = await ticket.answer()
    if response is None:
        if answer.status == HTTPStatus.OK:
            return _replayed(exchange, answer, include_usage)
        return json_answer(exchange, answer)
    await response.write_eof()
    return response


def exchange_headers(exchange: Exchange) -> dict[str, str]:
    """The headers known before the answer (cache status, budget warning)."""
    return answer_headers(exchange, Answer(status=200, body=b""))


def _replayed(exchange: Exchange, answer: Answer, include_usage: bool) -> web.Response:
    """A whole answer (cached, coalesced from another worker, degraded) as an SSE stream."""
    events = replay_as_sse(json.loads(answer.body), include_usage=include_usage)
    response = web.Response(
        body=b"".join(events), headers={**SSE_HEADERS, **answer_headers(exchange, answer)}
    )
    response.content_type = "text/event-stream"
    return response
