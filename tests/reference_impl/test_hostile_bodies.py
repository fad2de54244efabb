"""Hostile request bodies (deep nesting, huge output caps) are a JSON 400, never a 500."""

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
from reference_impl.validation import MAX_JSON_DEPTH, MAX_OUTPUT_TOKENS


KEY = "sk-test-hostile"
BUDGETED_KEY = "sk-test-budgeted"


@pytest.fixture
async def provider() -> AsyncIterator[TestServer]:
    async with hi_provider() as server:
        yield server


@pytest.fixture
async def client(provider: TestServer) -> AsyncIterator[TestClient[Any, Any]]:
    """A hardened gateway (cache keys and budgets on, per worker) on a provider that says hi."""
    config = load_config(
        None,
        overrides={
            "provider_url": str(provider.make_url("/v1")),
            "tenants": [
                {"name": "one", "api_key": KEY},
                {"name": "two", "api_key": BUDGETED_KEY, "budget": {"limit_tokens": 100_000}},
            ],
        },
        environ={},
    )
    async with TestClient(TestServer(create_app(config), host="127.0.0.1")) as test_client:
        yield test_client


def _nested(depth: int) -> Any:
    """A value of ``depth`` levels of arrays (``depth`` 0 is a number)."""
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def _chat(**fields: Any) -> dict[str, Any]:
    return {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hello"}],
        "temperature": 0,
        **fields,
    }


async def _post(
    client: TestClient[Any, Any], body: bytes | dict[str, Any], key: str = KEY
) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    response = await client.post("/v1/chat/completions", data=data, headers=headers)
    assert response.content_type == "application/json"
    return response.status, await response.json()


def _no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == []
    assert not any(record.exc_info for record in caplog.records)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 1000, id="open-brackets"),
        pytest.param(b"[" * 1000 + b"]" * 1000, id="closed-brackets"),
        pytest.param(b"[" * 100_000, id="100k-open-brackets"),
        pytest.param(b'{"a":' * 1000 + b"1" + b"}" * 1000, id="nested-objects"),
    ],
)
async def test_deep_top_level_nesting_is_a_400(
    client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    caplog.set_level(logging.DEBUG)
    status, answer = await _post(client, body)
    assert status == 400
    assert answer["error"]["type"] == "invalid_request_error"
    _no_errors_logged(caplog)


@pytest.mark.parametrize("depth", [995, MAX_JSON_DEPTH - 2])
async def test_deep_nesting_inside_a_message_is_a_400(
    client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture, depth: int
) -> None:
    caplog.set_level(logging.DEBUG)
    extra = b"[" * depth + b"1" + b"]" * depth  # written out: too deep for json.dumps here
    body = (
        b'{"model": "gpt-4o-mini", "temperature": 0, "messages": '
        b'[{"role": "user", "content": "hello", "extra": ' + extra + b"}]}"
    )
    status, answer = await _post(client, body)
    assert status == 400
    assert answer["error"]["type"] == "invalid_request_error"
    assert str(MAX_JSON_DEPTH) in answer["error"]["message"]
    _no_errors_logged(caplog)


async def test_nesting_up_to_the_limit_is_served(client: TestClient[Any, Any]) -> None:
    # body (1) > messages (2) > message (3) > extra: the rest of the levels
    messages = [{"role": "user", "content": "hello", "extra": _nested(MAX_JSON_DEPTH - 3)}]
    status, answer = await _post(client, _chat(messages=messages))
    assert status == 200, answer


async def test_brackets_in_text_past_the_limit_do_not_make_a_body_deep(
    client: TestClient[Any, Any],
) -> None:
    messages = [{"role": "user", "content": "[{" * MAX_JSON_DEPTH}]
    status, answer = await _post(client, _chat(messages=messages))
    assert status == 200, answer


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
@pytest.mark.parametrize("value", [10**7, 10**30, MAX_OUTPUT_TOKENS + 1, 0, True, "100", 1e30])
@pytest.mark.parametrize("key", [KEY, BUDGETED_KEY])
async def test_output_cap_out_of_bounds_is_a_400_naming_it(
    client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture, field: str, value: Any, key: str
) -> None:
    caplog.set_level(logging.DEBUG)
    status, answer = await _post(client, _chat(**{field: value}), key=key)
    assert status == 400, answer
    assert answer["error"]["type"] == "invalid_request_error"
    assert answer["error"]["param"] == field
    assert field in answer["error"]["message"]
    _no_errors_logged(caplog)


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
@pytest.mark.parametrize("value", [1, 256, 16_384, MAX_OUTPUT_TOKENS])
async def test_output_cap_in_bounds_is_served(
    client: TestClient[Any, Any], field: str, value: int
) -> None:
    status, answer = await _post(client, _chat(**{field: value}))
    assert status == 200, answer


async def test_budgeted_output_cap_in_bounds_is_served(client: TestClient[Any, Any]) -> None:
    status, answer = await _post(client, _chat(max_tokens=1000), key=BUDGETED_KEY)
    assert status == 200, answer
