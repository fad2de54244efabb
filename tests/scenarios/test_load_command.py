"""``meltproof load``'s command line: option parsing and per-tenant keys."""

from click.testing import CliRunner, Result

from scenarios.cli import main
from scenarios.load_command import tenant_api_key


def test_a_tenant_key_comes_from_its_own_variable() -> None:
    environ = {"MELTPROOF_API_KEY_NOISY_CO": "sk-noisy", "MELTPROOF_API_KEY_ACME": ""}
    assert tenant_api_key("noisy-co", environ) == "sk-noisy"
    assert tenant_api_key("acme", environ) is None  # empty means unset
    assert tenant_api_key("globex", environ) is None


def _load(*options: str) -> Result:
    """``meltproof load`` with a minimal command line plus ``options``."""
    required = ["--url", "http://127.0.0.1:1", "--rate", "1", "--duration", "1"]
    return CliRunner().invoke(main, ["load", *required, *options])


def test_bad_weights_name_the_item() -> None:
    result = _load("--tenants", "acme=lots")
    assert result.exit_code == 2
    assert "'acme=lots': the weight after '=' must be a number" in result.output


def test_an_unknown_endpoint_is_refused_with_the_known_ones() -> None:
    result = _load("--endpoints", "chat,completions")
    assert result.exit_code == 2
    assert "unknown endpoint 'completions'" in result.output
    assert "chat_stream" in result.output


def test_a_url_without_a_scheme_is_refused() -> None:
    result = CliRunner().invoke(
        main, ["load", "--url", "127.0.0.1:8080", "--rate", "1", "--duration", "1"]
    )
    assert result.exit_code == 2
    assert "http:// or https://" in result.output
