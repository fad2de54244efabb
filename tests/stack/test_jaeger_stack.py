"""The traces receiver of the stack: its build, its config, its endpoints, reading spans."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest
import yaml

from stack import Endpoints, StackConfig
from stack.errors import StackStartError
from stack.gateway_traces import traced_gateway_config
from stack.go_build import go_build_cached
from stack.go_install import GoProgram
from stack.jaeger import TraceSpan, find_jaeger, spans_of
from stack.jaeger.server import jaeger_config


PROGRAM = GoProgram(
    service="tool",
    title="Tool",
    package="example.com/tool/cmd/tool",
    version="v1.2.0",
    command="tool",
    instead=", or set TOOL_BINARY",
)


def _fake_go(tmp_path: Path, module_dir: Path) -> str:
    """A ``go`` that answers ``mod download -json`` with ``module_dir`` and records a build."""
    go = tmp_path / "go"
    go.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = mod ]; then echo \'{{"Dir": "{module_dir}"}}\'; exit 0; fi\n'
        'out=""; prev=""\n'
        'for arg in "$@"; do [ "$prev" = -o ] && out="$arg"; prev="$arg"; done\n'
        'echo "$(pwd) $@" > "$out"\n'
    )
    go.chmod(go.stat().st_mode | stat.S_IXUSR)
    return str(go)


def test_a_module_build_runs_in_the_downloaded_module_and_lands_once(tmp_path):
    module_dir = tmp_path / "modcache" / "tool@v1.2.0"
    module_dir.mkdir(parents=True)
    go = _fake_go(tmp_path, module_dir)
    told: list[str] = []
    built = go_build_cached(
        PROGRAM, "example.com/tool", tmp_path / "cache", go=go, ldflags=("-X a=b",),
        on_build=told.append,
    )  # fmt: skip
    assert built == tmp_path / "cache" / "tool-v1.2.0" / "bin" / "tool"
    cwd, *argv = built.read_text().split()
    assert cwd == str(module_dir)
    assert argv[:4] == ["build", "-trimpath", "-ldflags", "-X"]
    assert argv[-1] == "./cmd/tool"
    assert told == ["building Tool v1.2.0 with go build (once, several minutes; cached after)"]
    again = go_build_cached(PROGRAM, "example.com/tool", tmp_path / "cache", go="/nonexistent")
    assert again == built


@pytest.mark.skipif(shutil.which("go") is None, reason="needs Go")
def test_a_failed_jaeger_build_shows_the_go_output_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("GOPROXY", "off")  # the real toolchain, refused any download
    monkeypatch.setenv("GOMODCACHE", str(tmp_path / "modcache"))
    monkeypatch.setenv("GOFLAGS", "-modcacherw")
    with pytest.raises(StackStartError) as info:
        find_jaeger(tmp_path / "cache")
    assert info.value.service == "jaeger"
    assert "mod download failed" in info.value.cause
    assert "GOPROXY=off" in info.value.cause
    assert "MELTPROOF_JAEGER" in info.value.fix
    assert not list((tmp_path / "cache" / "jaeger-v1.75.0").glob("bin/*"))


def test_a_configured_jaeger_that_is_missing_is_named(tmp_path):
    missing = tmp_path / "jaeger"
    with pytest.raises(StackStartError) as info:
        find_jaeger(tmp_path / "cache", configured=missing)
    assert str(missing) in info.value.cause
    assert "MELTPROOF_JAEGER" in info.value.fix


def test_meltproof_jaeger_names_the_binary(tmp_path):
    config = StackConfig.from_env(tmp_path, environ={"MELTPROOF_JAEGER": "/opt/jaeger"})
    assert config.jaeger == Path("/opt/jaeger")
    assert not config.traces


def test_every_jaeger_listener_is_on_loopback_and_its_own_telemetry_is_off():
    config = jaeger_config(otlp_port=4001, query_port=4002, health_port=4003)
    endpoints = [
        config["receivers"]["otlp"]["protocols"]["http"]["endpoint"],
        config["extensions"]["jaeger_query"]["http"]["endpoint"],
        config["extensions"]["jaeger_query"]["grpc"]["endpoint"],
        config["extensions"]["healthcheckv2"]["http"]["endpoint"],
    ]
    assert endpoints == ["127.0.0.1:4001", "127.0.0.1:4002", "127.0.0.1:0", "127.0.0.1:4003"]
    assert list(config["receivers"]["otlp"]["protocols"]) == ["http"]
    assert config["extensions"]["jaeger_query"]["enable_tracing"] is False
    assert config["service"]["telemetry"] == {
        "metrics": {"level": "none"},
        "traces": {"level": "none"},
    }


def test_the_traced_gateway_config_keeps_the_rest_and_stays_private(tmp_path):
    given = tmp_path / "gateway.yaml"
    given.write_text(
        yaml.safe_dump(
            {"tenants": [{"name": "a", "api_key": "sk-a-123456"}], "tracing": {"sample_ratio": 0.5}}
        )
    )
    traced = traced_gateway_config(given, "http://127.0.0.1:4318", tmp_path)
    document = yaml.safe_load(traced.read_text())
    assert document["tenants"] == [{"name": "a", "api_key": "sk-a-123456"}]
    assert document["tracing"] == {
        "sample_ratio": 0.5,
        "enabled": True,
        "endpoint": "http://127.0.0.1:4318",
    }
    assert stat.S_IMODE(traced.stat().st_mode) == 0o600


def test_the_receiver_is_listed_only_when_the_stack_runs_one():
    urls = [f"http://127.0.0.1:{port}" for port in range(9, 17)]
    assert not any("traces" in label for label, _ in Endpoints(*urls).labelled())
    traced = Endpoints(*urls, otlp="http://127.0.0.1:20", traces="http://127.0.0.1:21")
    assert traced.labelled()[-2:] == [
        ("otlp (traces in)", "http://127.0.0.1:20"),
        ("traces api", "http://127.0.0.1:21"),
    ]


OTLP_JSON = {
    "resourceSpans": [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "gw"}}]},
            "scopeSpans": [
                {
                    "spans": [
                        {
                            "traceId": "4BF92F3577B34DA6A3CE929D0E0E4736",
                            "spanId": "dc9af86c332c1ea1",
                            "parentSpanId": "380974e751bd2183",
                            "name": "upstream.attempt",
                            "kind": 1,
                            "startTimeUnixNano": "1796621219588797009",
                            "endTimeUnixNano": "1796621219688797009",
                            "attributes": [
                                {"key": "gen_ai.request.model", "value": {"stringValue": "m"}},
                                {"key": "http.response.status_code", "value": {"intValue": "429"}},
                                {"key": "ratio", "value": {"doubleValue": 0.5}},
                                {"key": "flag", "value": {"boolValue": True}},
                                {"key": "list", "value": {"arrayValue": {"values": []}}},
                            ],
                            "status": {"message": "HTTP 429", "code": 2},
                        },
                        {
                            "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                            "spanId": "380974e751bd2183",
                            "name": "POST /v1/chat/completions",
                            "kind": 2,
                            "startTimeUnixNano": "1796621219588745572",
                            "endTimeUnixNano": "1796621219788843198",
                            "status": {},
                        },
                    ]
                }
            ],
        }
    ]
}


def test_otlp_json_spans_read_as_plain_spans_and_round_trip():
    attempt, request = spans_of(OTLP_JSON)
    assert attempt == TraceSpan(
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        span_id="dc9af86c332c1ea1",
        parent_id="380974e751bd2183",
        name="upstream.attempt",
        kind="internal",
        start_ns=1796621219588797009,
        end_ns=1796621219688797009,
        service="gw",
        attributes={
            "gen_ai.request.model": "m",
            "http.response.status_code": 429,
            "ratio": 0.5,
            "flag": True,
        },
        error=True,
    )
    assert attempt.duration_s == pytest.approx(0.1)
    assert request.parent_id is None
    assert request.kind == "server"
    assert not request.error
    assert TraceSpan.from_dict(json.loads(json.dumps(attempt.to_dict()))) == attempt
