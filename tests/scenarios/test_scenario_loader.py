"""Scenario files: valid ones load, mistakes name the file, the line and the field."""

from pathlib import Path

import pytest
from scenario_file_support import error_of, write

from scenarios.loader import builtin_names, load_scenario, resolve
from scenarios.schema import ScenarioSpec, SuiteError, json_schema


MINIMAL = """\
name: tiny
duration_s: 5
workload:
  arrivals:
    shape: {kind: constant, rate_rps: 2}
checks:
  errors: {kind: error_rate, max: 0.01}
"""


def test_a_minimal_scenario_gets_the_defaults(tmp_path: Path) -> None:
    spec = load_scenario(write(tmp_path, MINIMAL))
    assert spec.name == "tiny"
    assert spec.target.gateway is not None
    assert spec.target.gateway.profile == "hardened"
    assert spec.steady_state.enabled
    assert "gpt-4o" in spec.all_prices()


def test_a_bad_value_names_its_line_and_field(tmp_path: Path) -> None:
    text = MINIMAL.replace("rate_rps: 2", "rate_rps: -1")
    message = error_of(write(tmp_path, text))
    assert message.startswith(f"{tmp_path / 's.yaml'}:5: workload.arrivals.shape.rate_rps:")
    assert "greater than 0" in message


def test_a_fault_mistake_names_the_fault_field_not_the_kind_tag(tmp_path: Path) -> None:
    text = MINIMAL + (
        "faults:\n"
        "  - at_s: 3\n"
        "    fault:\n"
        "      kind: latency\n"
        "      link: redis\n"
        "      latency_ms: -5\n"
    )
    message = error_of(write(tmp_path, text))
    assert ":13: faults.0.fault.latency_ms:" in message


def test_a_check_mistake_names_the_check(tmp_path: Path) -> None:
    text = MINIMAL + "  p95:\n    kind: latency\n    percentile: 120\n    max_ms: 5\n"
    message = error_of(write(tmp_path, text))
    assert ":10: checks.p95.percentile:" in message


def test_an_unknown_field_and_a_missing_one_are_both_reported(tmp_path: Path) -> None:
    text = MINIMAL.replace("duration_s: 5", "duration: 5")
    message = error_of(write(tmp_path, text))
    assert ":2: duration: unknown field" in message
    assert ":1: duration_s: Field required" in message


def test_an_unknown_fault_kind_lists_the_known_ones(tmp_path: Path) -> None:
    text = MINIMAL + "faults:\n  - at_s: 1\n    fault: {kind: meteor}\n"
    message = error_of(write(tmp_path, text))
    assert ":10: faults.0.fault:" in message
    assert "latency" in message


def test_broken_yaml_names_its_line(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, MINIMAL + "checks: [unclosed\n"))
    assert message.startswith(f"{tmp_path / 's.yaml'}:")
    assert "not valid YAML" in message


def test_a_target_is_ours_or_a_url_not_both(tmp_path: Path) -> None:
    text = MINIMAL + "target:\n  gateway: {}\n  url: http://127.0.0.1:1\n"
    assert "exactly one of" in error_of(write(tmp_path, text))


def test_a_python_scenario_defines_scenario(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "SCENARIO = {'name': 'py', 'duration_s': 3,"
        " 'workload': {'arrivals': {'shape': {'kind': 'ramp', 'start_rps': 1,"
        " 'end_rps': 5, 'over_s': 3}}},"
        " 'checks': {'errors': {'kind': 'error_rate', 'max': 0.1}}}\n",
        "py_scenario.py",
    )
    assert load_scenario(path).name == "py"
    bad = write(tmp_path, "SCENARIO = 3\n", "bad.py")
    assert "define SCENARIO" in error_of(bad)


def test_every_builtin_scenario_is_valid() -> None:
    names = builtin_names()
    assert {"monday_peak", "provider_429_storm", "provider_brownout", "redis_outage",
            "redis_latency", "postgres_slow", "noisy_tenant", "connection_resets",
            "stream_stalls"} <= set(names)  # fmt: skip
    for path in resolve("all"):
        assert isinstance(load_scenario(path), ScenarioSpec)


def test_resolve_refuses_what_it_cannot_find(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match=r"built-in: .*monday_peak"):
        resolve("no_such_scenario")
    with pytest.raises(SuiteError, match="no scenario files"):
        resolve(str(tmp_path))


def test_the_json_schema_describes_faults_and_checks() -> None:
    schema = json_schema()
    assert schema["title"] == "meltproof scenario"
    text = str(schema)
    assert "provider_errors" in text
    assert "upstream_amplification" in text


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("name: chat", "name: chatt"), "unknown endpoint 'chatt'"),
        (("rate_rps: 2}", "rate_rps: .inf}"), "finite number"),
        (("fanout: {}", "fanout: {min_parts: 3, max_parts: 2}"), "min_parts"),
        (("weight: 2", "weight: 2}\n    - {name: acme"), "distinct names"),
    ],
)
def test_workload_mistakes_are_found_before_anything_runs(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    text = MINIMAL.replace(
        "    shape: {kind: constant, rate_rps: 2}\n",
        "    shape: {kind: constant, rate_rps: 2}\n"
        "  endpoints: [{name: chat}]\n  fanout: {}\n  tenants:\n    - {name: acme, weight: 2}\n",
    )
    load_scenario(write(tmp_path, text))
    assert expected in error_of(write(tmp_path, text.replace(*change)))


def test_faults_need_our_stack_and_must_start_within_the_load(tmp_path: Path) -> None:
    fault = "faults:\n  - at_s: 5\n    fault: {kind: link_down, link: redis}\n"
    assert "starts at or after the end" in error_of(write(tmp_path, MINIMAL + fault))
    url = MINIMAL + "target: {url: 'http://127.0.0.1:1'}\n" + fault.replace("at_s: 5", "at_s: 1")
    assert "a 'url' target needs 'stack'" in error_of(write(tmp_path, url))


def test_a_key_given_twice_an_empty_file_and_a_list_are_refused(tmp_path: Path) -> None:
    assert ":7: 'checks' is given twice" in error_of(write(tmp_path, "checks: {}\n" + MINIMAL))
    assert "the file is empty" in error_of(write(tmp_path, "# nothing\n"))
    assert "must be a mapping" in error_of(write(tmp_path, "- a\n- b\n"))


def test_an_error_inside_a_mapping_of_numbers_has_its_line(tmp_path: Path) -> None:
    text = MINIMAL + (
        "faults:\n  - at_s: 1\n    fault:\n      kind: provider_errors\n"
        "      rates:\n        429: 2.0\n"
    )
    assert ":12: faults.0.fault.rates" in error_of(write(tmp_path, text))
