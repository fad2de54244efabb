"""Helpers shared by the provider tests (a unique module name: test dirs are not packages)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from stack.provider import ModelSpec, ProviderConfig


AUTH = {"Authorization": "Bearer sk-test"}

FAST_MODELS = (
    ModelSpec(
        name="fast", ttft_ms=5, tpot_ms=1, jitter=0.1, output_tokens_min=5, output_tokens_max=20
    ),
    ModelSpec(name="exact", ttft_ms=30, tpot_ms=2, jitter=0, output_tokens_min=10),
    ModelSpec(name="embed", kind="embedding", ttft_ms=2, dimensions=64),
)
FAST_CONFIG = ProviderConfig(models=FAST_MODELS, seed=7)

Client = TestClient[Any, Any]


def chat_body(
    model: str = "fast", text: str = "Hello there, how are you?", **extra: Any
) -> dict[str, Any]:
    """A chat completion request body."""
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


async def post_json(client: Client, path: str, body: object, **headers: str) -> tuple[int, Any]:
    """POST ``body`` with a key and return the status and the decoded JSON answer."""
    async with client.post(path, json=body, headers={**AUTH, **headers}) as response:
        return response.status, await response.json()


async def read_sse(client: Client, body: object) -> list[str]:
    """POST a streaming request and return the ``data:`` payloads in order."""
    async with client.post("/v1/chat/completions", json=body, headers=AUTH) as response:
        assert response.status == 200
        assert response.content_type == "text/event-stream"
        text = await response.text()
    assert text.endswith("\n\n")
    events = text.split("\n\n")[:-1]
    assert all(event.startswith("data: ") for event in events)
    return [event.removeprefix("data: ") for event in events]


async def control(client: Client, method: str, path: str, body: object = None) -> Any:
    """Call the control API, expecting success; returns the JSON answer (None for 204)."""
    async with client.request(method, f"/_control/{path}", json=body) as response:
        assert response.status in {200, 204}, await response.text()
        return None if response.status == 204 else await response.json()
