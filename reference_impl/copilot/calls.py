"""The copilot's LLM calls: built as chat requests, run through every pattern, fanned out.

With ``bounded_fanout`` on, a request runs at most ``max_parallel`` calls at once; off (naive),
all of them at once, as the case study's unbounded chains did.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from ..answer import Answer
from ..chat import CHAT
from ..config import TenantConfig
from ..estimate import prompt_tokens_upper
from ..exchange import internal_exchange
from ..pipeline import complete
from ..retrieval import Chunk
from ..state import Gateway


SYSTEM = "You are a recruiting copilot. Answer with JSON only."
log = logging.getLogger(__name__)


def chat_body(
    gateway: Gateway, *, user: str, schema: Mapping[str, Any], name: str
) -> dict[str, Any]:
    """A deterministic chat request (so identical clicks share answers) asking for JSON."""
    copilot = gateway.config.copilot
    return {
        "model": copilot.model,
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}],
        "temperature": 0,
        "max_tokens": copilot.max_tokens,
        "response_format": {"type": "json_schema", "json_schema": {"name": name, "schema": schema}},
    }


def context_lines(chunks: Sequence[Chunk]) -> str:
    """The retrieved chunks as prompt lines."""
    return "\n".join(f"- {chunk.content}" for chunk in chunks) or "- (no context available)"


async def fan_out(
    gateway: Gateway, tenant: TenantConfig, bodies: Sequence[dict[str, Any]]
) -> list[Answer | None]:
    """Every body's answer, in order, as many at once as ``bounded_fanout`` allows; None for
    a call that failed in the gateway itself (logged), so one failure degrades one part."""
    bounded = gateway.config.bounded_fanout
    gate = asyncio.Semaphore(bounded.max_parallel if bounded.enabled else max(1, len(bodies)))

    async def one(body: dict[str, Any]) -> Answer | None:
        async with gate:
            exchange = internal_exchange(
                gateway,
                tenant,
                CHAT,
                body,
                prompt_version=gateway.config.copilot.prompt_version,
                prompt_tokens=prompt_tokens_upper(body["messages"]),
                max_output_tokens=body["max_tokens"],
            )
            try:
                return await complete(exchange)
            except Exception:
                log.exception("a copilot call failed; its part of the answer is degraded")
                return None

    return list(await asyncio.gather(*(one(body) for body in bodies)))


def answer_fields(answer: Answer | None) -> dict[str, Any] | None:
    """The JSON object an answer's content holds, or None (an error, a degraded answer)."""
    if answer is None or answer.status != HTTPStatus.OK or answer.degraded:
        return None
    try:
        completion = json.loads(answer.body)
        content = completion["choices"][0]["message"]["content"]
        fields = json.loads(content)
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return fields if isinstance(fields, dict) else None
