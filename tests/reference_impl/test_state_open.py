"""Opening the gateway's collaborators: a failure halfway closes what was already open."""

from typing import Any

import pytest

from reference_impl import state
from reference_impl.config import load_config
from reference_impl.metrics import GatewayMetrics
from reference_impl.redis_link import connect


async def test_a_failure_after_redis_opened_closes_the_redis_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = load_config(
        None,
        overrides={
            "provider_url": "http://127.0.0.1:9/v1",
            "redis_url": "redis://127.0.0.1:9/0",
            "tenants": [{"name": "one", "api_key": "k" * 24}],
        },
        environ={},
    )
    closed: list[str] = []

    def recording_connect(url: str, **kwargs: Any) -> Any:
        client = connect(url, **kwargs)
        real_aclose = client.aclose

        async def aclose() -> None:
            closed.append(url)
            await real_aclose()

        client.aclose = aclose  # type: ignore[method-assign,assignment]
        return client

    def failing_session(_config: object) -> None:
        raise RuntimeError("no upstream session")

    monkeypatch.setattr(state, "connect", recording_connect)
    monkeypatch.setattr(state, "open_upstream_session", failing_session)
    with pytest.raises(RuntimeError, match="no upstream session"):
        async with state.open_gateway(config, GatewayMetrics()):
            pass
    assert closed == ["redis://127.0.0.1:9/0"]
