"""Bad input always gets an OpenAI-shaped JSON 4xx, never a 5xx."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web
from provider_support import AUTH, FAST_MODELS, Client, chat_body
from pytest_aiohttp import AiohttpClient

from stack.provider import ProviderConfig, create_app


MESSAGES = [{"role": "user", "content": "hi"}]


def _assert_error(data: Any) -> dict[str, Any]:
    assert set(data) == {"error"}
    error: dict[str, Any] = data["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    return error


def _chat(**fields: Any) -> bytes:
    return json.dumps({"model": "fast", "messages": MESSAGES, **fields}).encode()


def _schema(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "s", "schema": schema}}


def _message(**fields: Any) -> bytes:
    return _chat(messages=[fields])


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        (b"{", None),
        (b"", None),
        (b"[1, 2]", None),
        (b'"text"', None),
        (json.dumps({"messages": MESSAGES}).encode(), "model"),
        (_chat(model=3), "model"),
        (json.dumps({"model": "fast"}).encode(), "messages"),
        (_chat(messages=[]), "messages"),
        (_chat(messages="hi"), "messages"),
        (_message(content="hi"), "messages[0].role"),
        (_message(role="robot", content="x"), "messages[0].role"),
        (_message(role="user", content=5), "messages[0].content"),
        (_message(role="user", content=[{"text": "no type"}]), "messages[0].content"),
        (_message(role="user"), "messages[0]"),
        (_chat(max_tokens="5"), "max_tokens"),
        (_chat(max_tokens=0), "max_tokens"),
        (_chat(max_completion_tokens=1.5), "max_completion_tokens"),
        (_chat(n=0), "n"),
        (_chat(n=9), "n"),
        (_chat(stream="yes"), "stream"),
        (_chat(temperature=3), "temperature"),
        (_chat(seed="x"), "seed"),
        (_chat(stream_options={"include_usage": 1}), "stream_options.include_usage"),
        (_chat(response_format={"type": "xml"}), "response_format.type"),
        (_chat(response_format={"type": "json_schema"}), "response_format"),
        (_chat(response_format=_schema({"type": "array", "minItems": 10**9})), "response_format"),
        (_chat(response_format=_schema({"$ref": "#/$defs/missing"})), "response_format"),
        (_chat(response_format=_schema({"enum": "abc"})), "response_format"),
        (_chat(response_format=_schema({"type": "number", "minimum": "1"})), "response_format"),
        (_chat(response_format=_schema({"$ref": "#"})), "response_format"),
        (b"[" * 100_000, None),
    ],
)
async def test_bad_chat_requests_are_400(client: Client, raw: bytes, param: str | None) -> None:
    async with client.post("/v1/chat/completions", data=raw, headers=AUTH) as response:
        assert response.status == 400
        assert response.content_type == "application/json"
        assert response.headers["x-request-id"].startswith("req_")
        error = _assert_error(await response.json())
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "embed"}, "input"),
        ({"model": "embed", "input": ""}, "input"),
        ({"model": "embed", "input": []}, "input"),
        ({"model": "embed", "input": ["ok", ""]}, "input"),
        ({"model": "embed", "input": [[1, -2]]}, "input"),
        ({"model": "embed", "input": ["a", [1]]}, "input"),
        ({"model": "embed", "input": 5}, "input"),
        ({"model": "embed", "input": [1] * 9000}, "input"),
        ({"model": "embed", "input": "hi", "dimensions": 0}, "dimensions"),
        ({"model": "embed", "input": "hi", "dimensions": 65}, "dimensions"),
        ({"model": "embed", "input": "hi", "encoding_format": "hex"}, "encoding_format"),
    ],
)
async def test_bad_embedding_requests_are_400(
    client: Client, body: dict[str, Any], param: str
) -> None:
    async with client.post("/v1/embeddings", json=body, headers=AUTH) as response:
        assert response.status == 400
        error = _assert_error(await response.json())
    assert error["param"] == param


async def test_unknown_params_are_accepted(client: Client) -> None:
    body = chat_body(logit_bias={"50256": -100}, tools=[], parallel_tool_calls=False, store=True)
    async with client.post("/v1/chat/completions", json=body, headers=AUTH) as response:
        assert response.status == 200


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer "}, {"Authorization": "Basic x"}]
)
async def test_a_missing_key_is_401(client: Client, headers: dict[str, str]) -> None:
    async with client.post("/v1/chat/completions", json=chat_body(), headers=headers) as response:
        assert response.status == 401
        _assert_error(await response.json())


async def test_azure_api_key_header_is_accepted(client: Client) -> None:
    headers = {"api-key": "azure-key"}
    async with client.post("/v1/chat/completions", json=chat_body(), headers=headers) as response:
        assert response.status == 200


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/v1/chat/completions", chat_body(model="gpt-5"), "model_not_found"),
        ("/v1/chat/completions", chat_body(model="embed"), None),
        ("/v1/embeddings", {"model": "fast", "input": "hi"}, None),
        ("/v1/completions", chat_body(), None),
    ],
)
async def test_unknown_models_and_routes_are_404(
    client: Client, path: str, body: dict[str, Any], code: str | None
) -> None:
    async with client.post(path, json=body, headers=AUTH) as response:
        assert response.status == 404
        error = _assert_error(await response.json())
    assert error["code"] == code
    async with client.get("/v1/models/gpt-5", headers=AUTH) as response:
        assert response.status == 404
        assert _assert_error(await response.json())["code"] == "model_not_found"


async def test_wrong_method_is_405(client: Client) -> None:
    async with client.delete("/v1/chat/completions", headers=AUTH) as response:
        assert response.status == 405
        assert "POST" in response.headers["Allow"]
        _assert_error(await response.json())


async def test_oversized_bodies_are_413(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(
        create_app(ProviderConfig(models=FAST_MODELS, max_body_bytes=2048))
    )
    big = json.dumps(chat_body(text="x" * 4000)).encode()
    async with client.post("/v1/chat/completions", data=big, headers=AUTH) as response:
        assert response.status == 413
        _assert_error(await response.json())

    async def chunks() -> Any:  # no Content-Length: the limit is enforced while reading
        for start in range(0, len(big), 512):
            yield big[start : start + 512]

    async with client.post("/v1/chat/completions", data=chunks(), headers=AUTH) as response:
        assert response.status == 413
    small = json.dumps(chat_body()).encode()
    async with client.post("/v1/chat/completions", data=small, headers=AUTH) as response:
        assert response.status == 200


async def test_an_unexpected_exception_is_a_500_json(aiohttp_client: AiohttpClient) -> None:
    app = create_app(ProviderConfig(models=FAST_MODELS))

    async def broken(_request: web.Request) -> web.StreamResponse:
        raise RuntimeError("boom")

    app.router.add_get("/v1/broken", broken)
    client = await aiohttp_client(app)
    async with client.get("/v1/broken") as response:
        assert response.status == 500
        error = _assert_error(await response.json())
    assert error["type"] == "server_error"
    assert "boom" not in error["message"]
