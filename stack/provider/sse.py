"""Streaming a chat completion as server-sent events, on the model's schedule.

Events are due at ``ttft`` (role chunks and the first token) and then after
each gap. Events that fall due together are written at once, and the stream
sleeps until the next one is due, so a slow event loop batches tokens rather
than drifting or spinning. Faults: a stall adds a pause before token
``stall_after_tokens``; the malformed fault puts a garbage ``data:`` event
halfway; truncation cuts the connection after ``truncate_after_tokens`` tokens
with no finish chunk, usage or ``[DONE]``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping

from aiohttp import web

from stack.provider.faults import FaultPlan
from stack.provider.inbound import common_headers
from stack.provider.keys import TICKET
from stack.provider.latency import Timing
from stack.provider.outbound import cut_connection
from stack.provider.reply import DONE, ChunkWriter, Reply


Event = tuple[float, bytes, int]
"""When it is due (seconds from the start), its bytes, the tokens it carries."""


async def stream_reply(
    request: web.Request,
    reply: Reply,
    timing: Timing,
    plan: FaultPlan,
    *,
    headers: Mapping[str, str],
    include_usage: bool,
) -> web.StreamResponse:
    """Send ``reply`` as SSE; stops quietly if the client goes away."""
    response = web.StreamResponse(headers={**common_headers(request), **headers})
    response.content_type = "text/event-stream"
    response.headers["Cache-Control"] = "no-cache"
    await response.prepare(request)
    ticket = request[TICKET]
    loop = asyncio.get_running_loop()
    start = loop.time()
    pending = bytearray()
    pending_tokens = 0
    try:
        for due, data, count in events(reply, timing, plan, include_usage=include_usage):
            if pending and start + due > loop.time():
                await response.write(bytes(pending))
                ticket.completion_tokens += pending_tokens
                pending.clear()
                pending_tokens = 0
            delay = start + due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            pending += data
            pending_tokens += count
        await response.write(bytes(pending))
        ticket.completion_tokens += pending_tokens
    except ConnectionResetError:
        return response  # the client went away; tokens not written are not counted
    if plan.truncate_after_tokens is not None:
        cut_connection(request)
    return response


def events(
    reply: Reply, timing: Timing, plan: FaultPlan, *, include_usage: bool
) -> Iterator[Event]:
    """The events of a stream, in order, with the time each is due."""
    writer = ChunkWriter(reply, include_usage=include_usage)
    longest = reply.longest
    cut = plan.truncate_after_tokens
    truncated = cut is not None
    steps = longest if cut is None else min(cut, longest)
    stall_at = plan.stall_after_tokens
    garbage_at = longest // 2 if plan.malformed else None
    due = timing.ttft_s
    for step in range(steps):
        if step:
            due += timing.gaps_s[step - 1]
        if step == stall_at:
            due += plan.stall_s
        parts = [writer.garbage()] if step == garbage_at else []
        count = 0
        for index, choice in enumerate(reply.choices):
            if step >= choice.tokens:
                continue
            if step == 0:
                parts.append(writer.role(index))
            parts.append(writer.content(index, choice.pieces[step]))
            count += 1
            if step == choice.tokens - 1 and not truncated:
                parts.append(writer.finish(index))
        yield due, "".join(parts).encode(), count
    if not truncated:
        yield due, (writer.usage() if include_usage else "").encode() + DONE, 0
