"""Gateways under test: in this process (fast to start) or as worker processes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from reference_impl.config import load_config
from stack import Stack
from stack.ports import claim_port
from stack.python_service import PythonService
from stack.service import ServiceInfo


KEY = "sk-test-tenant-one"
OTHER_KEY = "sk-test-tenant-two"
TENANTS = [{"name": "one", "api_key": KEY}, {"name": "two", "api_key": OTHER_KEY}]
FAST_MODELS = [
    {"name": "gpt-4o", "ttft_ms": 40, "tpot_ms": 2, "jitter": 0.05, "output_tokens_min": 5,
     "output_tokens_max": 10, "slots": 256},
    {"name": "gpt-4o-mini", "ttft_ms": 30, "tpot_ms": 1, "jitter": 0.05, "output_tokens_min": 5,
     "output_tokens_max": 10, "slots": 256},
    {"name": "local-llm", "ttft_ms": 10, "tpot_ms": 1, "jitter": 0.05, "output_tokens_min": 5,
     "output_tokens_max": 10, "slots": 64},
    {"name": "text-embedding-3-small", "kind": "embedding", "dimensions": 8, "ttft_ms": 5},
]  # fmt: skip


def auth(key: str = KEY) -> dict[str, str]:
    """The Authorization header of a tenant."""
    return {"Authorization": f"Bearer {key}"}


def fast_provider(stack: Stack, **model_changes: Any) -> None:
    """Short, quick answers so tests spend their time on the gateway, not on generation."""
    models = [{**m, **model_changes} if m.get("kind") != "embedding" else m for m in FAST_MODELS]
    stack.provider.set_config({"models": models})


def unique_messages(text: str = "Summarise candidate") -> list[dict[str, str]]:
    """Messages no earlier test sent (the session's Redis keeps cached answers)."""
    return [{"role": "user", "content": f"{text} {uuid.uuid4().hex}"}]


def chat(messages: list[dict[str, str]], **fields: Any) -> dict[str, Any]:
    """A deterministic (hence cacheable) chat request body."""
    return {"model": "gpt-4o-mini", "messages": messages, "temperature": 0, **fields}


def gateway_config(stack: Stack, **fields: Any) -> Any:
    """A validated config for a gateway on the stack's provider and Redis links."""
    overrides = {
        "provider_url": stack.endpoints.provider_proxied,
        "redis_url": stack.endpoints.redis_proxied,
        "tenants": TENANTS,
        **fields,
    }
    return load_config(None, overrides=overrides, environ={})


@contextmanager
def gateway_process(
    stack: Stack, directory: Path, *, workers: int, config: Mapping[str, Any] | None = None
) -> Iterator[ServiceInfo]:
    """``python -m reference_impl`` with ``workers`` processes; yields its URL and pid."""
    path = directory / f"gateway-{uuid.uuid4().hex[:8]}.yaml"
    path.write_text(yaml.safe_dump({"tenants": TENANTS, **(config or {})}))
    service = PythonService(
        "gateway-under-test",
        "reference_impl",
        port=claim_port("gateway", None, "--port"),
        log_dir=directory,
        args=[
            "--provider-url", stack.endpoints.provider_proxied,
            "--redis-url", stack.endpoints.redis_proxied,
            "--config", str(path),
            "--workers", str(workers),
        ],
    )  # fmt: skip
    service.launch()
    try:
        yield service.wait_ready(time.monotonic() + 30)
    finally:
        service.stop()


def provider_requests(stack: Stack, *, model: str | None = None) -> int:
    """Requests the provider received (per model when given): the ground truth."""
    stats = stack.provider.stats()
    group = stats["models"].get(model, {}) if model else stats["total"]
    return int(group.get("requests", 0))
