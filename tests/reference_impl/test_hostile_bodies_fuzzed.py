"""Hostile bodies the fuzz suite (tests/fuzz) found the gateway failing on: each is a JSON
400 naming the problem, with nothing logged at ERROR."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from gateway_stand_ins import hi_provider

from reference_impl.app import create_app
from reference_impl.config import load_config


KEY = "sk-test-fuzzed-bodies"
CHAT = b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}], '


@pytest.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    """A hardened gateway (per worker, no Redis or database) on a provider that says hi."""
    async with hi_provider() as provider:
        config = load_config(
            None,
            overrides={
                "provider_url": str(provider.make_url("/v1")),
                "tenants": [{"name": "one", "api_key": KEY}],
            },
            environ={},
        )
        async with TestClient(TestServer(create_app(config), host="127.0.0.1")) as test_client:
            yield test_client


async def _post(client: TestClient[Any, Any], path: str, body: bytes) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    response = await client.post(path, data=body, headers=headers)
    assert response.content_type == "application/json"
    return response.status, await response.json()


def _no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    loud = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert loud == [], [(r.levelname, r.getMessage()) for r in loud]


LONG_INTEGER = b"9" * 5_000
"""More digits than Python converts (``sys.get_int_max_str_digits()``, 4300)."""


@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param("/v1/chat/completions", CHAT + b'"max_tokens": ' + LONG_INTEGER + b"}",
                     id="chat-cap"),
        pytest.param("/v1/chat/completions", CHAT + b'"seed": -' + LONG_INTEGER + b"}",
                     id="chat-passed-through-field"),
        pytest.param("/v1/embeddings", b'{"model": "text-embedding-3-small", "input": ['
                     + LONG_INTEGER + b"]}", id="embeddings-token"),
        pytest.param("/v1/copilot/summarize", b'{"pipeline_id": ' + LONG_INTEGER + b"}",
                     id="copilot-id"),
        pytest.param("/v1/chat/completions", LONG_INTEGER, id="top-level"),
    ],
)  # fmt: skip
async def test_an_integer_too_long_to_convert_is_a_400(
    client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture, path: str, body: bytes
) -> None:
    caplog.set_level(logging.DEBUG)
    status, answer = await _post(client, path, body)
    assert status == 400, answer
    assert answer["error"]["type"] == "invalid_request_error"
    assert "not valid JSON" in answer["error"]["message"]
    _no_errors_logged(caplog)


async def test_a_long_integer_within_the_limit_is_served(client: TestClient[Any, Any]) -> None:
    status, answer = await _post(
        client, "/v1/chat/completions", CHAT + b'"seed": 1' + b"0" * 40 + b"}"
    )
    assert status == 200, answer
    json.dumps(answer)
