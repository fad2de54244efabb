"""``POST /v1/embeddings``: cached and coalesced like chat; cannot degrade, so 503 when down."""

from __future__ import annotations

from aiohttp import web

from .estimate import input_tokens_upper
from .exchange import Route, json_answer, start_exchange
from .pipeline import NO_EVENTS, Accounting, flight_answer, handle
from .singleflight import Ticket
from .validation import EmbeddingsBody, read_json_object, validate


EMBEDDINGS = Route(
    name="embeddings", path="v1/embeddings", kind="embedding", sampled=False, can_degrade=False
)


async def embeddings(request: web.Request) -> web.StreamResponse:
    """Vectors for ``input``, from the cache when the same input was embedded recently."""
    raw, data = await read_json_object(request)
    validate(EmbeddingsBody, data)
    exchange = start_exchange(
        request,
        EMBEDDINGS,
        data,
        raw=raw,
        prompt_tokens=input_tokens_upper(data["input"]),
        max_output_tokens=0,
    )

    async with Accounting(exchange) as outcome:
        served = await handle(exchange, NO_EVENTS)
        if isinstance(served, Ticket):
            served = await flight_answer(exchange, served, None)
        response = json_answer(exchange, served)
        outcome.responded(exchange, response)
    return response
