"""Placeholders of a command gateway: filled where known, other braces left alone."""

from pathlib import Path

from stack.command_service import CommandGateway
from stack.gateway_command import ClientAuth, GatewayCommand, fill


VALUES = {"port": "8080", "provider_url": "http://127.0.0.1:9", "run_dir": "/r"}


def test_fill_replaces_known_placeholders_and_leaves_json_braces() -> None:
    text = '{"custom_host": "{provider_url}/v1", "retry": {"attempts": 3}} {unknown}'
    assert fill(text, VALUES) == (
        '{"custom_host": "http://127.0.0.1:9/v1", "retry": {"attempts": 3}} {unknown}'
    )


def test_links_used_come_from_every_string_the_command_is_given() -> None:
    command = GatewayCommand(
        name="g",
        argv=("g", "--port", "{port}"),
        env={"REDIS": "{redis_host}:{redis_port}"},
        files={"g.yaml": "db: {database_url}"},
        headers={"x-config": '{"host": "{provider_url}"}'},
    )
    assert command.links_used() == frozenset({"redis", "postgres", "provider"})
    assert GatewayCommand(name="g", argv=("g", "{port}", "{run_dir}")).links_used() == frozenset()


def test_keys_per_auth_mode() -> None:
    tenants = ["acme", "globex"]
    assert ClientAuth().keys_for(tenants) == {}
    assert ClientAuth(mode="one_key", key="k").keys_for(tenants) == {"acme": "k", "globex": "k"}
    per_tenant = ClientAuth(mode="key_per_tenant", keys={"acme": "a"})
    assert per_tenant.keys_for(tenants) == {"acme": "a"}


def test_the_run_dir_placeholder_is_absolute_whatever_the_stack_was_given(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    command = GatewayCommand(name="g", argv=("node", "--import", "{run_dir}/preload.mjs"))
    gateway = CommandGateway(
        command, port=1234, values={}, run_dir=Path("runs/s/stack"), log_dir=tmp_path
    )
    assert gateway.argv[-1] == f"{tmp_path}/runs/s/stack/preload.mjs"
