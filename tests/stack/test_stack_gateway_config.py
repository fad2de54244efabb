"""The stack's gateway config file: demo tenants' keys and a scrape token, for the owner only."""

from __future__ import annotations

import stat
from pathlib import Path

from reference_impl.config import load_config
from stack.gateway_config import (
    api_keys_of,
    demo_api_keys,
    metrics_token_of,
    write_gateway_config,
)


def test_the_written_config_has_the_keys_and_a_fresh_metrics_token(tmp_path: Path) -> None:
    keys = demo_api_keys()
    first = write_gateway_config(tmp_path / "first.yaml", keys)
    second = write_gateway_config(tmp_path / "second.yaml", keys)

    assert api_keys_of(first) == keys
    token = metrics_token_of(first)
    assert token is not None
    assert token != metrics_token_of(second)
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    config = load_config(first, overrides={"provider_url": "http://127.0.0.1:9/"}, environ={})
    assert config.metrics_token is not None
    assert config.metrics_token.get_secret_value() == token


def test_a_config_without_a_token_has_none(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text("tenants: []\n")
    assert metrics_token_of(path) is None
    path.write_text("- not a mapping\n")
    assert metrics_token_of(path) is None
    assert api_keys_of(path) == {}
