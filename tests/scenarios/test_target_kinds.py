"""The target section: exactly one kind, command placeholders, faults only on used links."""

import textwrap
from pathlib import Path

import pytest
from scenario_file_support import error_of, write

from scenarios.loader import load_scenario, resolve
from scenarios.schema import ScenarioSpec, SuiteError, UnfitTargetError
from scenarios.target_option import label_of, with_target
from scenarios.target_setup import command_of


def scenario(target: str, fault: str = "{kind: latency, link: provider, latency_ms: 100}") -> str:
    return textwrap.dedent(
        """\
        name: t
        duration_s: 10
        target:
        {target}
        workload:
          arrivals: {{shape: {{kind: constant, rate_rps: 2}}}}
        faults:
          - {{at_s: 1, for_s: 2, fault: {fault}}}
        checks:
          errors: {{kind: error_rate, max: 0.1}}
        """
    ).format(target=textwrap.indent(target, "  "), fault=fault)


COMMAND = 'command: {name: proxy, argv: [proxy, --port, "{port}", --upstream, "{provider_url}"]}'


def test_a_command_target_loads(tmp_path: Path) -> None:
    spec = load_scenario(write(tmp_path, scenario(COMMAND)))
    assert spec.target.command is not None
    assert spec.target.label == "proxy"
    assert spec.target.known_links() == frozenset({"provider"})


def test_a_fault_on_a_link_the_command_is_not_given_is_refused_with_its_line(
    tmp_path: Path,
) -> None:
    text = scenario(COMMAND, "{kind: latency, link: redis, latency_ms: 100}")
    message = error_of(write(tmp_path, text))
    assert "s.yaml:1: (top level): fault 'latency' acts on the redis link" in message
    assert "target proxy" in message
    assert "it uses provider" in message


def test_a_process_fault_needs_the_link_of_its_service(tmp_path: Path) -> None:
    text = scenario(COMMAND, "{kind: freeze, service: postgres}")
    assert "acts on the postgres link" in error_of(write(tmp_path, text))


def test_a_command_given_redis_may_have_redis_faults(tmp_path: Path) -> None:
    command = COMMAND.replace('"{provider_url}"]', '"{provider_url}", --redis, "{redis_url}"]')
    spec = load_scenario(
        write(tmp_path, scenario(command, "{kind: latency, link: redis, latency_ms: 5}"))
    )
    assert spec.target.known_links() == frozenset({"provider", "redis"})


@pytest.mark.parametrize(
    ("argv", "wanted"),
    [
        ('[proxy, --upstream, "{provider_url}"]', "{port}"),
        ('[proxy, --port, "{port}"]', "{provider_url}"),
    ],
)
def test_a_command_must_be_given_its_port_and_the_provider(
    tmp_path: Path, argv: str, wanted: str
) -> None:
    message = error_of(write(tmp_path, scenario(f"command: {{argv: {argv}}}")))
    assert "target.command" in message
    assert wanted in message


def test_two_target_kinds_are_refused(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, scenario("peer: litellm\nurl: http://127.0.0.1:1")))
    assert "give exactly one of" in message


def test_a_url_target_has_faults_only_with_a_stack_and_the_links_it_uses(
    tmp_path: Path,
) -> None:
    bare = error_of(write(tmp_path, scenario("url: http://127.0.0.1:9"), "bare.yaml"))
    assert "needs 'stack'" in bare
    wired = "url: http://127.0.0.1:9\nstack: runs/up\nuses: [redis]"
    assert "acts on the provider link" in error_of(write(tmp_path, scenario(wired), "w.yaml"))


def test_key_modes_need_their_keys(tmp_path: Path) -> None:
    command = COMMAND.replace("{name: proxy,", "{name: proxy, auth: {mode: one_key},")
    assert "exactly one of 'key' or 'key_env'" in error_of(write(tmp_path, scenario(command)))


def test_keys_come_from_the_environment() -> None:
    spec = ScenarioSpec.model_validate(
        {
            "name": "t",
            "duration_s": 5,
            "target": {
                "command": {
                    "argv": ["proxy", "{port}", "{provider_url}"],
                    "auth": {"mode": "tenant_header", "key_env": "PROXY_KEY"},
                    "headers": {"x-route": "{provider_url}/v1"},
                }
            },
            "workload": {"arrivals": {"shape": {"kind": "constant", "rate_rps": 1}}},
            "checks": {"errors": {"kind": "error_rate", "max": 0.1}},
        }
    )
    assert spec.target.command is not None
    command = command_of(spec.target.command, {"PROXY_KEY": "sk-1"})
    assert command.auth.keys_for(["acme", "globex"]) == {"acme": "sk-1", "globex": "sk-1"}
    assert command.headers == {"x-route": "{provider_url}/v1"}
    with pytest.raises(SuiteError, match="PROXY_KEY, which is not set"):
        command_of(spec.target.command, {})


def test_with_target_keeps_the_gateway_settings_and_the_timeout(tmp_path: Path) -> None:
    spec = load_scenario(resolve("noisy_tenant")[0])
    naive = with_target(spec, "naive")
    assert naive.target.gateway is not None
    assert naive.target.gateway.profile == "naive"
    assert naive.target.gateway.tenants == spec.target.gateway.tenants  # type: ignore[union-attr]
    peer = with_target(spec, "litellm")
    assert peer.target.peer == "litellm"
    assert peer.target.timeout_s == spec.target.timeout_s
    assert label_of("targets/my-proxy.yaml") == "my-proxy"


def test_with_target_reads_a_target_file_and_refuses_unfelt_faults(tmp_path: Path) -> None:
    spec = load_scenario(resolve("redis_latency")[0])
    path = tmp_path / "proxy.yaml"
    path.write_text(f"target:\n  {COMMAND}\n")
    with pytest.raises(SuiteError, match="acts on the redis link"):
        with_target(spec, str(path))
    with pytest.raises(SuiteError, match="no such file"):
        with_target(spec, str(tmp_path / "missing.yaml"))


def test_a_url_target_takes_no_process_fault(tmp_path: Path) -> None:
    wired = "url: http://127.0.0.1:9\nstack: runs/up\nuses: [redis]"
    text = scenario(wired, "{kind: freeze, service: redis}")
    assert "only the meltproof up that started it can signal" in error_of(write(tmp_path, text))


def test_every_workload_tenant_needs_its_key(tmp_path: Path) -> None:
    command = COMMAND.replace(
        "{name: proxy,", "{name: proxy, auth: {mode: key_per_tenant, keys: {globex: k}},"
    )
    assert "no key for tenant 'acme'" in error_of(write(tmp_path, scenario(command)))


def test_a_fault_on_a_link_a_peer_does_not_use_is_refused_before_any_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MELTPROOF_CACHE_DIR", str(tmp_path / "empty-cache"))
    spec = load_scenario(resolve("redis_latency")[0])
    with pytest.raises(UnfitTargetError, match="redis link, which target portkey does not use"):
        with_target(spec, "portkey")
    assert with_target(spec, "litellm").target.peer == "litellm"  # LiteLLM uses Redis
    assert not (tmp_path / "empty-cache").exists()
