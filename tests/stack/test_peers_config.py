"""Built-in peers: the configs they are given, the commands they start with, the registry."""

import json
import stat
from dataclasses import dataclass

import pytest
import yaml

from stack import links
from stack.errors import StackStartError
from stack.gateway_command import fill
from stack.peers import PEERS, fallback_chains, litellm, peer_command, peer_links, portkey
from stack.peers.install import MARKER


@dataclass(frozen=True)
class Model:
    name: str
    kind: str = "chat"
    fallback: str | None = None


MODELS = (
    Model("gpt-4o", fallback="gpt-4o-mini"),
    Model("gpt-4o-mini", fallback="local-llm"),
    Model("local-llm"),
    Model("text-embedding-3-small", kind="embedding"),
)
CHAINS = {
    "gpt-4o": ["gpt-4o", "gpt-4o-mini", "local-llm"],
    "gpt-4o-mini": ["gpt-4o-mini", "local-llm"],
    "local-llm": ["local-llm"],
    "text-embedding-3-small": ["text-embedding-3-small"],
}
VALUES = {
    "port": "4000",
    "provider_url": "http://127.0.0.1:5000",
    "redis_url": "redis://127.0.0.1:6000/0",
    "redis_host": "127.0.0.1",
    "redis_port": "6000",
    "database_url": "postgresql://127.0.0.1:7000/db",
    "run_dir": "/runs/1",
}


def _installed(cache_dir, service, version, requirement):
    """Make the cache hold a finished install, so that no test runs pip or npm."""
    target = cache_dir / f"{service}-{version}"
    target.mkdir(parents=True)
    (target / MARKER).write_text(requirement)
    return target


@pytest.fixture
def fake_node(tmp_path, monkeypatch):
    """A ``node`` on PATH that says it is 20.20.2."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    node = bin_dir / "node"
    node.write_text("#!/bin/sh\necho v20.20.2\n")
    node.chmod(node.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bin_dir))
    return node


def test_every_model_chains_to_its_fallbacks_in_order():
    assert fallback_chains(MODELS) == CHAINS


@pytest.mark.parametrize(
    ("models", "message"),
    [
        ((Model("gpt-4o", fallback="gpt-4o-mini"),), "gpt-4o falls back to gpt-4o-mini, which"),
        (
            (Model("gpt-4o", fallback="embed"), Model("embed", kind="embedding")),
            "not a served chat model",
        ),
        ((Model("a", fallback="b"), Model("b", fallback="a")), "the fallback chain of a loops"),
    ],
)
def test_a_fallback_that_is_not_served_or_loops_is_refused(models, message):
    with pytest.raises(ValueError, match=message):
        fallback_chains(models)


def test_litellm_routes_every_served_model_to_the_provider_link():
    document = litellm.config(MODELS)
    assert [d["model_name"] for d in document["model_list"]] == list(CHAINS)
    assert document["model_list"][3] == {
        "model_name": "text-embedding-3-small",
        "litellm_params": {
            "model": "openai/text-embedding-3-small",
            "api_base": "{provider_url}/v1",
            "api_key": "sk-meltproof",
        },
        "model_info": {"mode": "embedding"},
    }


def test_litellm_retries_falls_back_cools_down_and_caches_in_redis():
    document = litellm.config(MODELS)
    router = document["router_settings"]
    assert router["fallbacks"] == [
        {"gpt-4o": ["gpt-4o-mini", "local-llm"]},
        {"gpt-4o-mini": ["local-llm"]},
    ]
    assert (router["num_retries"], router["allowed_fails"], router["cooldown_time"]) == (2, 3, 5)
    assert (router["redis_host"], router["redis_port"]) == ("{redis_host}", "{redis_port}")
    settings = document["litellm_settings"]
    assert settings["request_timeout"] == 30
    assert settings["cache"] is True
    assert settings["cache_params"]["type"] == "redis"
    assert (settings["cache_params"]["host"], settings["cache_params"]["port"]) == (
        "{redis_host}",
        "{redis_port}",
    )
    assert {"acompletion", "aembedding"} <= set(settings["cache_params"]["supported_call_types"])
    general = document["general_settings"]
    assert general["forward_client_headers_to_llm_api"] is True
    assert general["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    assert "database_url" not in general


def test_the_litellm_command_starts_the_cached_proxy_with_its_config_and_master_key(tmp_path):
    venv = _installed(tmp_path, "litellm", litellm.VERSION, litellm.REQUIREMENT)
    told = []
    command = litellm.command(MODELS, cache_dir=tmp_path, on_progress=told.append, workers=2)
    assert told == []  # nothing to install
    argv = [fill(arg, VALUES) for arg in command.argv]
    assert argv[:5] == ["env", "-u", "DATABASE_URL", "-u", "DIRECT_URL"]
    assert argv[5:] == [
        str(venv / "bin" / "litellm"), "--config", "/runs/1/litellm.yaml", "--host", "127.0.0.1",
        "--port", "4000", "--num_workers", "2",
    ]  # fmt: skip
    key = command.env["LITELLM_MASTER_KEY"]
    assert key.startswith("sk-")
    assert (command.auth.mode, command.auth.key) == ("one_key", key)
    assert command.env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert command.env["LITELLM_TELEMETRY_DISABLED"] == "true"
    assert command.ready_path == "/health/liveliness"
    assert command.version == f"LiteLLM {litellm.VERSION}"
    written = yaml.safe_load(fill(command.files["litellm.yaml"], VALUES))
    assert written["model_list"][0]["litellm_params"]["api_base"] == "http://127.0.0.1:5000/v1"
    assert written["litellm_settings"]["cache_params"]["port"] == "6000"
    assert key not in command.files["litellm.yaml"]
    assert command.links_used() == {links.PROVIDER, links.REDIS}


def test_litellm_refuses_fewer_than_one_worker(tmp_path):
    with pytest.raises(ValueError, match="at least 1"):
        litellm.command(MODELS, cache_dir=tmp_path, on_progress=print, workers=0)


def test_portkey_routes_each_model_to_its_fallback_chain_on_the_provider():
    document = portkey.config(MODELS)
    assert document["strategy"]["mode"] == "conditional"
    assert document["strategy"]["conditions"][0] == {
        "query": {"params.model": {"$eq": "gpt-4o"}},
        "then": "gpt-4o",
    }
    targets = {target["name"]: target for target in document["targets"]}
    assert list(targets) == list(CHAINS)
    chain = targets["gpt-4o"]
    assert chain["strategy"] == {
        "mode": "fallback",
        "on_status_codes": [408, 429, 500, 502, 503, 504],
    }
    assert [t["override_params"]["model"] for t in chain["targets"]] == CHAINS["gpt-4o"]
    assert chain["targets"][0] == {
        "provider": "openai",
        "custom_host": "{provider_url}/v1",
        "api_key": "sk-meltproof",
        "override_params": {"model": "gpt-4o"},
    }
    assert "targets" not in targets["local-llm"]
    assert targets["local-llm"]["override_params"] == {"model": "local-llm"}


def test_portkey_retries_times_out_and_forwards_the_tenant_but_caches_nothing():
    document = portkey.config(MODELS)
    assert document["retry"] == {"attempts": 2, "on_status_codes": [429, 500, 502, 503, 504]}
    assert document["request_timeout"] == 30_000
    assert document["forward_headers"] == ["x-tenant-id"]
    assert "cache" not in document  # the npm build has no cache


def test_the_portkey_command_sends_its_config_as_a_header_and_writes_it(tmp_path, fake_node):
    packages = (portkey.PACKAGE, *portkey.LOCKED_DEPENDENCIES)
    prefix = _installed(tmp_path, "portkey", portkey.VERSION, " ".join(packages))
    command = portkey.command(MODELS, cache_dir=tmp_path, on_progress=print)
    server = prefix / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
    assert [fill(arg, VALUES) for arg in command.argv] == [
        str(fake_node), "--import", "/runs/1/portkey-loopback.mjs", str(server), "--port=4000",
        "--headless",
    ]  # fmt: skip
    header = json.loads(fill(command.headers["x-portkey-config"], VALUES))
    written = json.loads(fill(command.files["portkey-config.json"], VALUES))
    assert header == written == json.loads(fill(json.dumps(portkey.config(MODELS)), VALUES))
    assert header["targets"][0]["targets"][0]["custom_host"] == "http://127.0.0.1:5000/v1"
    assert "127.0.0.1" in command.files["portkey-loopback.mjs"]
    assert command.env == {"NODE_ENV": "production"}
    assert command.auth.mode == "none"
    assert command.version == f"Portkey Gateway {portkey.VERSION}"
    assert command.links_used() == {links.PROVIDER}


def test_portkey_runs_one_process(tmp_path, fake_node):
    with pytest.raises(ValueError, match="one Node process"):
        portkey.command(MODELS, cache_dir=tmp_path, on_progress=print, workers=2)


@pytest.mark.parametrize("version", ["v20.5.1", "v18.19.0", ""])
def test_portkey_needs_node_20_6(tmp_path, fake_node, version):
    fake_node.write_text(f"#!/bin/sh\necho {version}\n")
    with pytest.raises(StackStartError, match=r"older than 20\.6"):
        portkey.command(MODELS, cache_dir=tmp_path, on_progress=print)


def test_the_registry_names_both_peers_and_installs_into_the_cache_the_environment_names(
    tmp_path,
):
    assert set(PEERS) == {"litellm", "portkey"}
    _installed(tmp_path, "litellm", litellm.VERSION, litellm.REQUIREMENT)
    environ = {"MELTPROOF_CACHE_DIR": str(tmp_path)}
    command = peer_command("litellm", MODELS, on_progress=print, environ=environ)
    assert command.argv[5].startswith(str(tmp_path))
    with pytest.raises(ValueError, match="there are litellm, portkey"):
        peer_command("kong", MODELS, on_progress=print, environ=environ)


ADAPTER_MODULES = {"litellm": litellm, "portkey": portkey}


@pytest.fixture
def no_install(tmp_path, monkeypatch):
    """Every adapter's install step (and Portkey's node lookup) faked: nothing is installed, the
    calls are recorded."""
    calls = []

    def install(cache_dir, *, service, **_):
        calls.append(service)
        return tmp_path / "installs" / service

    monkeypatch.setattr(litellm, "pip_install", install)
    monkeypatch.setattr(portkey, "npm_install", install)
    monkeypatch.setattr(portkey, "_node", lambda: "/usr/bin/node")
    return calls


def test_every_peer_is_an_adapter_module_that_declares_its_links():
    assert set(ADAPTER_MODULES) == set(PEERS)
    for name, module in ADAPTER_MODULES.items():
        assert name == module.NAME
        assert PEERS[name] is module.command
        assert peer_links(name) == module.LINKS
        assert set(links.LINKS) >= module.LINKS


@pytest.mark.parametrize("name", sorted(ADAPTER_MODULES))
def test_a_peer_command_uses_exactly_the_links_its_adapter_declares(name, tmp_path, no_install):
    environ = {"MELTPROOF_CACHE_DIR": str(tmp_path / "cache")}
    for models in (MODELS, MODELS[2:3]):  # with and without fallbacks and embeddings
        command = peer_command(name, models, on_progress=print, environ=environ)
        assert command.links_used() == peer_links(name) == ADAPTER_MODULES[name].LINKS
    assert no_install == [name, name]
    assert not (tmp_path / "cache").exists()


def test_the_links_of_a_peer_are_known_without_installing_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no pip, npm or node to be found
    assert peer_links("litellm") == {links.PROVIDER, links.REDIS}
    assert peer_links("portkey") == {links.PROVIDER}
    with pytest.raises(ValueError, match="no built-in peer is called 'kong'; there are litellm"):
        peer_links("kong")
