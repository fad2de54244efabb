"""A scenario's workload: a replayed file, or synthetic sizes and temperatures."""

import json
from pathlib import Path

from scenario_file_support import error_of, write

from benchmarks.token_lengths import LogNormal, TemperatureMix, Uniform
from scenarios.loader import load_scenario


HEAD = """\
name: replayed
duration_s: 30
checks:
  errors: {kind: error_rate, max: 0.01}
workload:
"""


def access_log(path: Path) -> Path:
    lines = [
        {"ts": 10.0 + i, "tenant": tenant, "fingerprint": f"f{i % 2}", "model": "gpt-4o",
         "endpoint": "chat", "stream": False, "prompt_version": "default", "max_tokens": 32,
         "temperature": 0, "prompt_tokens": 50, "output_tokens": 20}
        for i, tenant in enumerate(["acme", "globex", "acme"])
    ]  # fmt: skip
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_a_replay_takes_its_tenants_endpoints_and_model_from_the_file(tmp_path: Path) -> None:
    log = access_log(tmp_path / "access.log")
    spec = load_scenario(write(tmp_path, HEAD + f"  replay: {log}\n  speed: 2.0\n"))
    assert [t.name for t in spec.workload.tenants] == ["acme", "globex"]
    assert [e.name for e in spec.workload.endpoints] == ["chat"]
    assert spec.workload.model == "gpt-4o"
    workload = spec.workload.build(seed=1, api_keys={"acme": "sk-a"})
    assert workload.replay is not None
    assert workload.replay.speed == 2.0
    assert workload.tenants[0].api_key == "sk-a"
    assert workload.schedule(30.0).intended_s.tolist() == [0.0, 0.5, 1.0]


def test_the_synthetic_mix_cannot_go_with_a_replay(tmp_path: Path) -> None:
    log = access_log(tmp_path / "access.log")
    text = HEAD + f"  replay: {log}\n  tenants: [{{name: acme}}]\n  max_tokens: 10\n"
    message = error_of(write(tmp_path, text))
    assert "tenants, max_tokens cannot go with replay: the replayed file gives them" in message
    text = HEAD + f"  replay: {log}\n  arrivals:\n    shape: {{kind: constant, rate_rps: 2}}\n"
    assert "arrivals cannot go with replay" in error_of(write(tmp_path, text))


def test_a_malformed_replay_file_is_named_with_its_line_and_field(tmp_path: Path) -> None:
    log = access_log(tmp_path / "access.log")
    log.write_text(log.read_text() + '{"ts": 20, "tenant": "acme"}\n')
    message = error_of(write(tmp_path, HEAD + f"  replay: {log}\n"))
    assert f"{log}:4: field 'endpoint' is missing" in message


def test_a_workload_needs_arrivals_or_a_replay_and_speed_needs_a_replay(tmp_path: Path) -> None:
    assert "arrivals is required (or replay: FILE)" in error_of(
        write(tmp_path, HEAD + "  model: gpt-4o\n")
    )
    text = HEAD + "  arrivals:\n    shape: {kind: constant, rate_rps: 2}\n  speed: 2\n"
    assert "speed goes with replay only" in error_of(write(tmp_path, text))


def test_sizes_and_temperatures_are_distributions_and_a_mix(tmp_path: Path) -> None:
    text = HEAD + (
        "  arrivals:\n    shape: {kind: constant, rate_rps: 2}\n"
        "  prompt_tokens: {dist: lognormal, median: 300, p95: 1200}\n"
        "  max_tokens: {dist: uniform, min: 16, max: 64}\n"
        "  temperature: {0: 0.7, 0.7: 0.3}\n"
    )
    workload = load_scenario(write(tmp_path, text)).workload.build(seed=0, api_keys={})
    assert workload.prompt_tokens == LogNormal(300, 1200)
    assert workload.max_tokens == Uniform(16, 64)
    assert workload.temperature == TemperatureMix(((0, 0.7), (0.7, 0.3)))


def test_a_bad_size_or_temperature_names_its_field(tmp_path: Path) -> None:
    arrivals = "  arrivals:\n    shape: {kind: constant, rate_rps: 2}\n"
    text = HEAD + arrivals + "  prompt_tokens: {dist: lognormal, median: 0, p95: 10}\n"
    assert "s.yaml:8: workload.prompt_tokens.median: Input should be greater" in error_of(
        write(tmp_path, text)
    )
    text = HEAD + arrivals + "  temperature: {5: 1}\n"
    assert "temperature must be in [0, 2], got 5" in error_of(write(tmp_path, text))
