"""The gateway's spans, read back from the stack's Jaeger: the children of a miss, a hit, a
coalesced follower and a fallback, and a canary prompt in no span."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from typing import Any

import aiohttp
import pytest
import yaml
from gateway_support import KEY, TENANTS, auth, chat, fast_provider, unique_messages

from reference_impl.canonical import prompt_fingerprint
from reference_impl.config import TenantConfig
from reference_impl.tracing import Attr, SpanName
from stack import Stack, StackConfig, start_stack
from stack.go_build import BUILD_TIMEOUT_S
from stack.jaeger import TraceSpan


pytestmark = [
    pytest.mark.timeout(BUILD_TIMEOUT_S + 300),  # the first traces test builds Jaeger
]

CANARY = "canary-prompt-in-no-span-3e9d"
CLIENT_SPAN = "0a1b2c3d4e5f6071"
ROUTE = "POST /v1/chat/completions"


class Traced:
    """Requests to the stack's gateway, each with a fresh sampled trace."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def post(self, body: dict[str, Any]) -> tuple[str, str]:
        """Send ``body``; its trace id and the ``x-cache`` it got."""
        trace_id = secrets.token_hex(16)
        headers = {**auth(KEY), "traceparent": f"00-{trace_id}-{CLIENT_SPAN}-01"}
        async with self._session.post("/v1/chat/completions", json=body, headers=headers) as r:
            assert r.status == 200, await r.text()
            await r.read()
            return trace_id, r.headers.get("x-cache", "")


def trace_of(stack: Stack, trace_id: str, *, needs: set[str]) -> list[TraceSpan]:
    """The trace once its request span and the ``needs`` children have arrived."""
    assert stack.traces is not None
    deadline = time.monotonic() + 20
    while True:
        spans = stack.traces.trace(trace_id)
        names = {span.name for span in spans}
        if ({ROUTE} | needs) <= names or time.monotonic() > deadline:
            return spans
        time.sleep(0.3)


def request_span(spans: list[TraceSpan]) -> TraceSpan:
    """The trace's request span, a child of the client's span."""
    (root,) = [span for span in spans if span.name == ROUTE]
    assert root.parent_id == CLIENT_SPAN
    return root


def children(spans: list[TraceSpan], name: str) -> list[TraceSpan]:
    """The request span's children called ``name``."""
    root = request_span(spans)
    found = [span for span in spans if span.name == name]
    assert all(span.parent_id == root.span_id for span in found)
    return found


async def test_each_kind_of_request_has_its_spans_and_no_prompt(tmp_path):
    config = tmp_path / "gateway.yaml"
    config.write_text(yaml.safe_dump({"tenants": TENANTS}))
    with start_stack(
        StackConfig.from_env(tmp_path / "run", traces=True, gateway_config=config)
    ) as stack:
        fast_provider(stack, ttft_ms=300)
        messages = unique_messages(f"Summarise candidate {CANARY}")
        async with aiohttp.ClientSession(base_url=stack.endpoints.gateway) as session:
            client = Traced(session)
            miss, miss_cache = await client.post(chat(messages))
            hit, hit_cache = await client.post(chat(messages))
            shared = chat(unique_messages(f"Draft outreach {CANARY}"))
            flight = await asyncio.gather(*(client.post(shared) for _ in range(3)))
            stack.provider.set_fault(
                {"error_rates": {429: 1.0}, "retry_after_s": 5}, model="gpt-4o"
            )
            fallback, _ = await client.post(
                {"model": "gpt-4o", "messages": unique_messages(CANARY), "max_tokens": 5}
            )
            stack.provider.clear_faults()
        assert (miss_cache, hit_cache) == ("miss", "hit")
        follower = next(trace for trace, cache in flight if cache == "coalesced")
        traces = {
            "miss": trace_of(
                stack, miss, needs={SpanName.CACHE, SpanName.LIMITER, SpanName.ATTEMPT}
            ),
            "hit": trace_of(stack, hit, needs={SpanName.CACHE}),
            "follower": trace_of(stack, follower, needs={SpanName.CACHE, SpanName.COALESCE}),
            "fallback": trace_of(stack, fallback, needs={SpanName.FALLBACK, SpanName.ATTEMPT}),
        }

    (lookup,) = children(traces["miss"], SpanName.CACHE)
    assert lookup.attributes[Attr.CACHE] == "miss"
    assert len(children(traces["miss"], SpanName.LIMITER)) == 1
    (attempt,) = children(traces["miss"], SpanName.ATTEMPT)
    assert attempt.attributes[Attr.MODEL] == "gpt-4o-mini"
    assert attempt.attributes[Attr.ATTEMPT] == 1
    assert attempt.attributes[Attr.STATUS] == 200
    miss_root = request_span(traces["miss"])
    salt = TenantConfig(name="one", api_key=KEY).salt()
    assert miss_root.attributes[Attr.PROMPT_FINGERPRINT] == prompt_fingerprint(messages, salt=salt)
    assert miss_root.attributes[Attr.TENANT] == "one"
    assert miss_root.attributes[Attr.CACHE] == "miss"

    (lookup,) = children(traces["hit"], SpanName.CACHE)
    assert lookup.attributes[Attr.CACHE] == "hit"
    assert children(traces["hit"], SpanName.ATTEMPT) == []

    (lookup,) = children(traces["follower"], SpanName.CACHE)
    assert lookup.attributes[Attr.CACHE] == "coalesced"
    assert len(children(traces["follower"], SpanName.COALESCE)) == 1
    assert children(traces["follower"], SpanName.ATTEMPT) == []

    attempts = children(traces["fallback"], SpanName.ATTEMPT)
    assert [(a.attributes[Attr.MODEL], a.attributes[Attr.STATUS]) for a in attempts] == [
        ("gpt-4o", 429),
        ("gpt-4o-mini", 200),
    ]
    (moved,) = children(traces["fallback"], SpanName.FALLBACK)
    assert moved.attributes[Attr.FALLBACK_FROM] == "gpt-4o"
    assert moved.attributes[Attr.FALLBACK_TO] == "gpt-4o-mini"

    every_span = [span.to_dict() for spans in traces.values() for span in spans]
    assert CANARY not in json.dumps(every_span)
