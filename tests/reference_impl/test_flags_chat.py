"""Flags on the chat path: the tenant's model and prompt version, the variant header."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from faults.gateway.flag_document import write_flags
from reference_impl.app import create_app
from reference_impl.config import load_config
from reference_impl.flags import FLAG_VARIANT_HEADER


KEYS = {"acme": "sk-test-flags-acme", "globex": "sk-test-flags-globex"}
TOKEN = "metrics-token-of-the-flags-tests"  # noqa: S105 - a test scrape token
MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]
BODIES = web.AppKey("bodies", list[dict[str, Any]])

FLAGS: dict[str, Any] = {
    "flags": {
        "model": {
            "state": "ENABLED",
            "variants": {"big": "gpt-4o", "small": "gpt-4o-mini", "nowhere": "no-such-model"},
            "defaultVariant": None,
            "targeting": {
                "if": [
                    {"==": [{"var": "tenant"}, "acme"]},
                    "big",
                    {"==": [{"var": "tenant"}, "initech"]},
                    "nowhere",
                    None,
                ]
            },
        },
        "prompt-version": {
            "state": "ENABLED",
            "variants": {"v2": "v2"},
            "defaultVariant": None,
            "targeting": {"if": [{"==": [{"var": "tenant"}, "acme"]}, "v2"]},
        },
    }
}


@pytest.fixture
async def provider() -> AsyncIterator[TestServer]:
    """A provider that answers with the model it was asked for, and keeps the bodies."""
    bodies: list[dict[str, Any]] = []

    async def complete(request: web.Request) -> web.Response:
        body = await request.json()
        bodies.append(body)
        message = {"role": "assistant", "content": "hi"}
        return web.json_response(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1,
                "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
            }
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", complete)
    server = TestServer(app, host="127.0.0.1")
    server.app[BODIES] = bodies
    await server.start_server()
    yield server
    await server.close()


@pytest.fixture
async def make_client(provider: TestServer, tmp_path: Path) -> AsyncIterator[MakeClient]:
    clients: list[TestClient[Any, Any]] = []

    async def make(flags: dict[str, Any] | None = None) -> TestClient[Any, Any]:
        overrides: dict[str, Any] = {
            "provider_url": str(provider.make_url("/v1")),
            "profile": "naive",
            "metrics_token": TOKEN,
            "prompt_versions": ["v2", "v3"],
            "tenants": [{"name": name, "api_key": key} for name, key in KEYS.items()]
            + [{"name": "initech", "api_key": "sk-test-flags-initech"}],
        }
        if flags is not None:
            path = tmp_path / "flags.json"
            write_flags(path, flags)
            overrides["flags"] = {"file": path}
        config = load_config(None, overrides=overrides, environ={})
        client = TestClient(TestServer(create_app(config), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def ask(
    client: TestClient[Any, Any],
    tenant: str,
    *,
    model: str = "gpt-4o-mini",
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> web.Response:
    key = KEYS.get(tenant, f"sk-test-flags-{tenant}")
    body = {"model": model, "messages": [{"role": "user", "content": "hello"}], **fields}
    response = await client.post(
        "/v1/chat/completions",
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {key}", **(headers or {})},
    )
    assert response.status == 200, await response.text()
    return response


def asked_for(provider: TestServer) -> list[str]:
    return [body["model"] for body in provider.app[BODIES]]


async def test_a_targeted_tenant_gets_its_model_and_the_variant_header(
    make_client: MakeClient, provider: TestServer
) -> None:
    client = await make_client(FLAGS)
    response = await ask(client, "acme")
    assert asked_for(provider) == ["gpt-4o"]
    assert (await response.json())["model"] == "gpt-4o"
    assert response.headers[FLAG_VARIANT_HEADER] == "model=big,prompt-version=v2"


async def test_an_untargeted_tenant_keeps_its_model_and_gets_no_header(
    make_client: MakeClient, provider: TestServer
) -> None:
    client = await make_client(FLAGS)
    response = await ask(client, "globex")
    assert asked_for(provider) == ["gpt-4o-mini"]
    assert FLAG_VARIANT_HEADER not in response.headers


async def test_without_flags_the_request_is_untouched(
    make_client: MakeClient, provider: TestServer
) -> None:
    client = await make_client(None)
    response = await ask(client, "acme")
    assert asked_for(provider) == ["gpt-4o-mini"]
    assert FLAG_VARIANT_HEADER not in response.headers


async def test_a_flagged_model_the_gateway_does_not_serve_is_ignored(
    make_client: MakeClient, provider: TestServer
) -> None:
    client = await make_client(FLAGS)
    response = await ask(client, "initech")
    assert asked_for(provider) == ["gpt-4o-mini"]
    assert FLAG_VARIANT_HEADER not in response.headers


async def test_the_flagged_prompt_version_applies_to_requests_that_name_none(
    make_client: MakeClient,
) -> None:
    client = await make_client(FLAGS)
    await ask(client, "acme")
    await ask(client, "acme", headers={"x-prompt-version": "v3"})
    scrape = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    spent = [
        line
        for line in (await scrape.text()).splitlines()
        if "tokens_total{" in line and 'direction="in"' in line
    ]
    versions = {line.split('prompt_version="')[1].split('"')[0] for line in spent}
    assert versions == {"v2", "v3"}


async def test_a_percentage_rollout_keeps_each_user_in_one_cohort(
    make_client: MakeClient, provider: TestServer
) -> None:
    rollout = {
        "flags": {
            "model": {
                "state": "ENABLED",
                "variants": {"stable": "gpt-4o-mini", "canary": "gpt-4o"},
                "defaultVariant": "stable",
                "targeting": {"fractional": [["stable", 50], ["canary", 50]]},
            }
        }
    }
    client = await make_client(rollout)
    cohorts: dict[str, set[str]] = {}
    for user in [f"user-{i}" for i in range(12)] * 2:
        response = await ask(client, "globex", user=user)
        cohorts.setdefault(user, set()).add(response.headers[FLAG_VARIANT_HEADER])
    assert all(len(seen) == 1 for seen in cohorts.values())
    assert {seen.pop() for seen in cohorts.values()} == {"model=stable", "model=canary"}
    assert set(asked_for(provider)) == {"gpt-4o-mini", "gpt-4o"}


async def test_the_access_log_line_names_the_variants_served(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    access = logging.getLogger("reference_impl.access")
    level = access.level
    access.setLevel(logging.INFO)
    try:
        client = await make_client(FLAGS)
        with caplog.at_level(logging.INFO, logger="reference_impl.access"):
            await ask(client, "acme")
            await ask(client, "globex")
    finally:
        access.setLevel(level)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == access.name]
    assert [(line["tenant"], line["flags"]) for line in lines] == [
        ("acme", "model=big,prompt-version=v2"),
        ("globex", None),
    ]
    assert lines[0]["model"] == "gpt-4o"
