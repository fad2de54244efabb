"""A scenario's target: the gateway config it writes, and keys for a foreign URL."""

import stat
from pathlib import Path

import pytest
import yaml

from scenarios.cli.run_command import exit_code
from scenarios.schema import ScenarioSpec, SuiteError
from scenarios.target_setup import foreign_api_keys, gateway_config, provider_config


def spec(**fields: object) -> ScenarioSpec:
    return ScenarioSpec.model_validate(
        {
            "name": "s",
            "duration_s": 5,
            "workload": {
                "arrivals": {"shape": {"kind": "constant", "rate_rps": 1}},
                "tenants": [{"name": "acme"}, {"name": "noisy", "weight": 5}],
            },
            "checks": {"errors": {"kind": "error_rate", "max": 0.01}},
            **fields,
        }
    )


def test_every_workload_tenant_gets_a_key_and_its_settings(tmp_path: Path) -> None:
    scenario = spec(
        target={"gateway": {"settings": {"cache": {"ttl_s": 300}},
                            "tenants": {"noisy": {"concurrency_cap": 4}}}},
    )  # fmt: skip
    path, keys = gateway_config(scenario, tmp_path)
    assert set(keys) == {"acme", "noisy"}
    assert keys["acme"] != keys["noisy"]
    document = yaml.safe_load(path.read_text())
    assert document["cache"] == {"ttl_s": 300}
    tenants = {t["name"]: t for t in document["tenants"]}
    assert tenants["noisy"] == {"name": "noisy", "api_key": keys["noisy"], "concurrency_cap": 4}
    assert tenants["acme"] == {"name": "acme", "api_key": keys["acme"]}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_gateway_gets_a_fresh_metrics_token_unless_the_scenario_sets_one(
    tmp_path: Path,
) -> None:
    first = yaml.safe_load(gateway_config(spec(target={"gateway": {}}), tmp_path)[0].read_text())
    second = yaml.safe_load(gateway_config(spec(target={"gateway": {}}), tmp_path)[0].read_text())
    assert len(first["metrics_token"]) >= 16
    assert first["metrics_token"] != second["metrics_token"]
    own = spec(target={"gateway": {"settings": {"metrics_token": "m" * 20}}})
    assert yaml.safe_load(gateway_config(own, tmp_path)[0].read_text())["metrics_token"] == "m" * 20


def test_settings_for_a_tenant_the_workload_lacks_are_refused(tmp_path: Path) -> None:
    scenario = spec(target={"gateway": {"tenants": {"ghost": {"concurrency_cap": 1}}}})
    with pytest.raises(SuiteError, match="ghost"):
        gateway_config(scenario, tmp_path)


def test_the_provider_config_is_written_only_when_given(tmp_path: Path) -> None:
    assert provider_config(spec(), tmp_path) is None
    path = provider_config(spec(provider={"seed": 7}), tmp_path)
    assert path is not None
    assert '"seed": 7' in path.read_text()


def test_a_foreign_url_takes_its_key_from_the_named_variable() -> None:
    scenario = spec(target={"url": "http://127.0.0.1:8080", "api_key_env": "GW_KEY"})
    assert foreign_api_keys(scenario, {"GW_KEY": "k"}) == {"acme": "k", "noisy": "k"}
    with pytest.raises(SuiteError, match="GW_KEY"):
        foreign_api_keys(scenario, {})
    assert foreign_api_keys(spec(target={"url": "http://127.0.0.1:1"}), {}) == {}


def test_exit_codes_say_pass_slo_failure_or_undecided() -> None:
    assert exit_code(["pass", "pass"]) == 0
    assert exit_code(["pass", "fail", "unknown"]) == 1
    assert exit_code(["pass", "unknown"]) == 3
