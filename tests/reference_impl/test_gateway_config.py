"""The gateway config: profiles, pattern switches, validation errors that say where."""

import pytest

from reference_impl.config import PATTERNS, ConfigError, load_config


BASE = {"provider_url": "http://127.0.0.1:9/"}


def test_the_hardened_profile_switches_every_pattern_on():
    config = load_config(overrides=BASE, environ={})
    assert config.profile == "hardened"
    assert all(getattr(config, pattern).enabled for pattern in PATTERNS)


def test_the_naive_profile_switches_every_pattern_off():
    config = load_config(overrides={**BASE, "profile": "naive"}, environ={})
    assert not any(getattr(config, pattern).enabled for pattern in PATTERNS)


def test_one_pattern_can_be_switched_on_alone():
    config = load_config(overrides={**BASE, "profile": "naive"}, enable=("cache",), environ={})
    assert config.cache.enabled
    assert not config.coalescing.enabled


def test_an_explicit_section_keeps_its_settings_and_the_profile_default(tmp_path):
    path = tmp_path / "gateway.yaml"
    path.write_text("profile: naive\ncache:\n  ttl_s: 300\nlimiter:\n  enabled: true\n")
    config = load_config(path, overrides=BASE, environ={})
    assert config.cache.ttl_s == 300
    assert not config.cache.enabled
    assert config.limiter.enabled


def test_the_environment_fills_fields_and_options_win(tmp_path):
    environ = {"MELTPROOF_GATEWAY_PROFILE": "naive", "MELTPROOF_GATEWAY_REDIS_URL": "redis://x"}
    config = load_config(overrides=BASE, environ=environ)
    assert config.profile == "naive"
    assert config.redis_url == "redis://x"
    config = load_config(overrides={**BASE, "profile": "hardened"}, environ=environ)
    assert config.profile == "hardened"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("cache:\n  ttl_s: 0\n", "cache.ttl_s"),
        ("tenants:\n  - name: Bad Name\n    api_key: sk-12345678\n", "tenants.0.name"),
        ("tenants:\n  - name: a\n", "tenants.0.api_key"),
        ("breaker:\n  failure_rate: 2\n", "breaker.failure_rate"),
        ("caching: {}\n", "caching"),
        ("models:\n  - name: a\n    fallback: b\n", "unknown model 'b'"),
        ("models:\n  - {name: a, fallback: b}\n  - {name: b, fallback: a}\n", "loops"),
        (
            "tenants:\n  - {name: a, api_key: sk-12345678}\n  - {name: b, api_key: sk-12345678}\n",
            "api_key must be unique",
        ),
        ("- just a list\n", "top level must be a mapping"),
        ("tenants: [\n", "not valid YAML"),
    ],
)
def test_a_bad_config_file_names_the_field(tmp_path, text, fragment):
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="gateway config") as raised:
        load_config(path, overrides=BASE, environ={})
    assert fragment in str(raised.value)


def test_an_unknown_pattern_switch_is_refused():
    with pytest.raises(ConfigError, match="unknown pattern 'cashe'"):
        load_config(overrides=BASE, enable=("cashe",), environ={})


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read gateway config"):
        load_config(tmp_path / "absent.yaml", overrides=BASE, environ={})


def test_the_fallback_chain_follows_the_routes():
    config = load_config(overrides=BASE, environ={})
    assert config.fallback_chain("gpt-4o") == ["gpt-4o", "gpt-4o-mini", "local-llm"]
    assert config.fallback_chain("unknown-model") == ["unknown-model"]


def test_the_cache_salt_is_stable_per_key_and_differs_between_tenants():
    tenants = [{"name": "a", "api_key": "sk-aaaaaaaa"}, {"name": "b", "api_key": "sk-bbbbbbbb"}]
    one = load_config(overrides={**BASE, "tenants": tenants}, environ={})
    two = load_config(overrides={**BASE, "tenants": tenants}, environ={})
    assert one.tenants[0].salt() == two.tenants[0].salt()
    assert one.tenants[0].salt() != one.tenants[1].salt()


@pytest.mark.parametrize(
    ("given", "root"),
    [
        ("http://127.0.0.1:9", "http://127.0.0.1:9/"),
        ("https://api.openai.com/v1", "https://api.openai.com/"),
        ("https://api.openai.com/v1/", "https://api.openai.com/"),
        ("https://gw.example/proxy/v1", "https://gw.example/proxy/"),
        ("https://gw.example/proxy", "https://gw.example/proxy/"),
    ],
)
def test_the_provider_url_may_be_given_with_or_without_v1(given, root):
    config = load_config(overrides={"provider_url": given}, environ={})
    assert str(config.provider_url) == root
