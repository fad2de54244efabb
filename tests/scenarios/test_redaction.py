"""A command target's secrets stay out of the stored scenario, which still validates."""

from scenarios.redaction import NOT_STORED, stored_scenario
from scenarios.schema import ScenarioSpec


def test_keys_and_secret_looking_env_and_headers_are_not_stored() -> None:
    spec = ScenarioSpec.model_validate(
        {
            "name": "t",
            "duration_s": 5,
            "target": {
                "command": {
                    "argv": ["proxy", "{port}", "{provider_url}"],
                    "env": {"UPSTREAM_API_KEY": "sk-up", "LOG_LEVEL": "info"},
                    "headers": {"Authorization": "Bearer sk-h", "x-route": "a"},
                    "auth": {"mode": "key_per_tenant", "keys": {"acme": "sk-acme"}},
                }
            },
            "workload": {"arrivals": {"shape": {"kind": "constant", "rate_rps": 1}}},
            "checks": {"errors": {"kind": "error_rate", "max": 0.1}},
        }
    )
    stored = stored_scenario(spec)
    command = stored["target"]["command"]
    assert command["env"] == {"UPSTREAM_API_KEY": NOT_STORED, "LOG_LEVEL": "info"}
    assert command["headers"] == {"Authorization": NOT_STORED, "x-route": "a"}
    assert command["auth"]["keys"] == {"acme": NOT_STORED}
    assert "sk-" not in str(stored)
    assert ScenarioSpec.model_validate(stored).target.command is not None
