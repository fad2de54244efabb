"""A scenario that asks our gateway for a model it will not serve is refused before anything
starts, with the file, line and field that ask, and the models the target serves."""

from pathlib import Path

from scenario_file_support import error_of, write

from scenarios.loader import load_scenario


SCENARIO = """\
name: tiny
duration_s: 5
provider:
  models:
    - {name: gpt-4o}
    - {name: gpt-4o-mini}
    - {name: local-llm}
    - {name: text-embedding-3-large, kind: embedding}
workload:
  arrivals:
    shape: {kind: constant, rate_rps: 2}
  endpoints:
    - {name: chat}
  model: gpt-4o
checks:
  errors: {kind: error_rate, max: 0.01}
"""
CHAT_MODELS = "gpt-4o, gpt-4o-mini, local-llm"


def test_a_scenario_whose_models_are_served_loads(tmp_path: Path) -> None:
    assert load_scenario(write(tmp_path, SCENARIO)).workload.model == "gpt-4o"


def test_a_workload_model_the_gateway_does_not_route_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, SCENARIO.replace("model: gpt-4o", "model: gpt-5"))
    assert error_of(path) == (
        f"{path}:14: workload.model: 'gpt-5' is not served by the target; it serves {CHAT_MODELS}"
    )


def test_a_model_the_provider_does_not_deploy_is_not_served(tmp_path: Path) -> None:
    path = write(tmp_path, SCENARIO.replace("    - {name: gpt-4o}\n", ""))
    assert error_of(path) == (
        f"{path}:13: workload.model: 'gpt-4o' is not served by the target; "
        "it serves gpt-4o-mini, local-llm"
    )


def test_a_fallback_the_provider_does_not_deploy_is_not_served(tmp_path: Path) -> None:
    path = write(tmp_path, SCENARIO.replace("    - {name: local-llm}\n", ""))
    assert error_of(path) == (
        f"{path}:13: workload.model: 'gpt-4o' falls back to 'local-llm', which is not served "
        "by the target; it serves gpt-4o, gpt-4o-mini"
    )


def test_the_default_workload_model_is_located_at_the_workload(tmp_path: Path) -> None:
    text = SCENARIO.replace("  model: gpt-4o\n", "").replace("    - {name: gpt-4o-mini}\n", "")
    path = write(tmp_path, text)
    assert error_of(path) == (
        f"{path}:8: workload.model: 'gpt-4o-mini' is not served by the target; "
        "it serves gpt-4o, local-llm"
    )


def test_the_embeddings_endpoint_asks_for_its_own_model(tmp_path: Path) -> None:
    path = write(tmp_path, SCENARIO.replace("    - {name: chat}\n", "    - {name: embeddings}\n"))
    assert error_of(path) == (
        f"{path}:13: workload.endpoints.0.name: the embeddings endpoint asks for "
        "'text-embedding-3-small', which is not served by the target; "
        "it serves text-embedding-3-large"
    )


def test_the_copilot_endpoints_ask_for_the_copilots_model(tmp_path: Path) -> None:
    text = (
        SCENARIO.replace(
            "    - {name: chat}\n", "    - {name: chat}\n    - {name: copilot_outreach}\n"
        )
        + "target:\n  gateway:\n    settings: {copilot: {model: gpt-5}}\n"
    )
    path = write(tmp_path, text)
    assert error_of(path) == (
        f"{path}:14: workload.endpoints.1.name: the copilot_outreach endpoint asks for 'gpt-5' "
        "(target.gateway.settings.copilot.model), which is not served by the target; "
        f"it serves {CHAT_MODELS}"
    )


def test_the_gateway_settings_decide_what_it_routes(tmp_path: Path) -> None:
    text = (
        SCENARIO.replace("model: gpt-4o", "model: gpt-5").replace(
            "    - {name: gpt-4o}\n", "    - {name: gpt-4o}\n    - {name: gpt-5}\n"
        )
        + "target:\n  gateway:\n    settings:\n      models:\n"
        "        - {name: gpt-5, fallback: gpt-4o}\n        - {name: gpt-4o}\n"
    )
    assert load_scenario(write(tmp_path, text)).workload.model == "gpt-5"


def test_gateway_settings_it_would_refuse_are_refused_now(tmp_path: Path) -> None:
    settings = "target:\n  gateway:\n    settings:\n      cache: {ttl_s: 0}\n      cach: {}\n"
    path = write(tmp_path, SCENARIO + settings)
    message = error_of(path).splitlines()
    assert message[0].startswith(f"{path}:20: target.gateway.settings.cache.ttl_s: ")
    assert "greater than or equal to 1" in message[0]
    assert message[1] == f"{path}:21: target.gateway.settings.cach: unknown field"


def test_a_provider_fault_on_a_model_the_provider_lacks_is_refused(tmp_path: Path) -> None:
    fault = (
        "faults:\n  - at_s: 1\n    fault: {kind: brownout, model: gpt-5, latency_multiplier: 2}\n"
    )
    path = write(tmp_path, SCENARIO + fault)
    assert error_of(path) == (
        f"{path}:19: faults.0.fault.model: 'gpt-5' is not a model of the simulated provider; "
        "it has gpt-4o, gpt-4o-mini, local-llm, text-embedding-3-large"
    )


def test_every_unserved_model_is_reported(tmp_path: Path) -> None:
    text = SCENARIO.replace("model: gpt-4o", "model: gpt-5").replace(
        "    - {name: chat}\n", "    - {name: chat}\n    - {name: embeddings}\n"
    )
    assert [line.split(": ")[1] for line in error_of(write(tmp_path, text)).splitlines()] == [
        "workload.model",
        "workload.endpoints.1.name",
    ]


def test_what_a_foreign_url_serves_is_not_checked(tmp_path: Path) -> None:
    text = (
        SCENARIO.replace("model: gpt-4o", "model: gpt-5") + "target: {url: 'http://127.0.0.1:1'}\n"
    )
    assert load_scenario(write(tmp_path, text)).workload.model == "gpt-5"


def test_a_python_scenario_is_checked_too(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "SCENARIO = {'name': 'py', 'duration_s': 3,"
        " 'workload': {'arrivals': {'shape': {'kind': 'constant', 'rate_rps': 1}},"
        " 'model': 'gpt-5'},"
        " 'checks': {'errors': {'kind': 'error_rate', 'max': 0.1}}}\n",
        "py_scenario.py",
    )
    assert error_of(path) == (
        f"{path}: workload.model: 'gpt-5' is not served by the target; it serves {CHAT_MODELS}"
    )
