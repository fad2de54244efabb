"""The flagd-format file provider, through the OpenFeature SDK: resolution and re-reading."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from faults.gateway.flag_document import write_flags
from reference_impl.config import ConfigError, load_config
from reference_impl.flags_file import FlagsFileError, parse_flags
from reference_impl.flags_provider import FlagdFileProvider, FlagsFile


POLL_S = 5.0

FLAGS: dict[str, Any] = {
    "flags": {
        "model": {
            "state": "ENABLED",
            "variants": {"stable": "gpt-4o-mini", "big": "gpt-4o"},
            "defaultVariant": "stable",
            "targeting": {"if": [{"==": [{"var": "tenant"}, "acme"]}, "big"]},
        },
        "plain": {
            "state": "ENABLED",
            "variants": {"on": True, "off": False},
            "defaultVariant": "on",
        },
        "off": {"state": "DISABLED", "variants": {"a": "x"}, "defaultVariant": "a"},
        "no-default": {"state": "ENABLED", "variants": {"a": "x"}, "defaultVariant": None},
        "limit": {
            "state": "ENABLED",
            "variants": {"low": 10, "high": 1.5},
            "defaultVariant": "low",
        },
    }
}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "flags.json"
    write_flags(path, FLAGS)
    return path


@pytest.fixture
def client(path: Path, clock: Clock) -> Iterator[OpenFeatureClient]:
    provider = FlagdFileProvider(FlagsFile(path, poll_s=POLL_S, clock=clock))
    api.set_provider_and_wait(provider, domain=f"test-{id(provider)}")
    yield api.get_client(domain=f"test-{id(provider)}")
    api.clear_providers()


def acme() -> EvaluationContext:
    return EvaluationContext("user-1", {"tenant": "acme"})


def test_targeting_picks_a_variant_and_others_get_the_default(client: OpenFeatureClient) -> None:
    details = client.get_string_details("model", "asked", acme())
    assert (details.value, details.variant, details.reason) == (
        "gpt-4o",
        "big",
        Reason.TARGETING_MATCH,
    )
    other = client.get_string_details("model", "asked", EvaluationContext("u", {"tenant": "b"}))
    assert (other.value, other.variant, other.reason) == ("gpt-4o-mini", "stable", Reason.DEFAULT)


def test_a_flag_without_targeting_is_static(client: OpenFeatureClient) -> None:
    details = client.get_boolean_details("plain", False)
    assert (details.value, details.variant, details.reason) == (True, "on", Reason.STATIC)


def test_disabled_absent_and_defaultless_flags_give_the_callers_default(
    client: OpenFeatureClient,
) -> None:
    disabled = client.get_string_details("off", "mine")
    assert (disabled.value, disabled.variant, disabled.reason) == ("mine", None, Reason.DISABLED)
    absent = client.get_string_details("nope", "mine")
    assert (absent.value, absent.error_code) == ("mine", ErrorCode.FLAG_NOT_FOUND)
    no_default = client.get_string_details("no-default", "mine")
    assert (no_default.value, no_default.variant) == ("mine", None)


def test_a_value_of_another_type_is_a_type_mismatch(client: OpenFeatureClient) -> None:
    details = client.get_string_details("plain", "mine")
    assert (details.value, details.error_code) == ("mine", ErrorCode.TYPE_MISMATCH)
    assert client.get_integer_value("limit", 0) == 10
    assert client.get_float_value("limit", 0.0) == 10


def test_a_changed_file_is_read_once_poll_s_has_passed(
    client: OpenFeatureClient, path: Path, clock: Clock
) -> None:
    changed = json.loads(json.dumps(FLAGS))
    changed["flags"]["model"]["defaultVariant"] = "big"
    write_flags(path, changed)
    other = EvaluationContext("u", {"tenant": "b"})
    clock.now = POLL_S / 2
    assert client.get_string_value("model", "asked", other) == "gpt-4o-mini"
    clock.now = POLL_S
    assert client.get_string_value("model", "asked", other) == "gpt-4o"


def test_a_file_that_turns_bad_leaves_the_last_good_flags(
    client: OpenFeatureClient, path: Path, clock: Clock
) -> None:
    path.write_text('{"flags": {"model": {"state": "MAYBE"}}}', encoding="utf-8")
    clock.now = POLL_S
    assert client.get_string_value("model", "asked", acme()) == "gpt-4o"
    path.unlink()
    clock.now = 2 * POLL_S
    assert client.get_string_value("model", "asked", acme()) == "gpt-4o"


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("[]", "the top level must be an object"),
        ('{"flags": {}, "$evaluators": {}}', "unsupported top-level keys: $evaluators"),
        ('{"flags": {"f": {"state": "ON", "variants": {"a": 1}}}}', "flags.f.state"),
        ('{"flags": {"f": {"state": "ENABLED", "variants": {}}}}', "flags.f.variants"),
        (
            '{"flags": {"f": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "b"}}}',
            "flags.f.defaultVariant: 'b' is not one of its variants",
        ),
        (
            '{"flags": {"f": {"state": "ENABLED", "variants": {"a": 1}, "targeting": {"<": []}}}}',
            "flags.f.targeting: unknown operator",
        ),
        ("{", "not JSON"),
    ],
)
def test_a_bad_document_is_refused_with_where_and_why(document: str, problem: str) -> None:
    with pytest.raises(FlagsFileError) as raised:
        parse_flags(document)
    assert problem in str(raised.value)


def test_the_gateway_does_not_start_with_a_missing_or_bad_flags_file(tmp_path: Path) -> None:
    overrides = {"provider_url": "http://127.0.0.1:9/v1"}
    missing = tmp_path / "missing.json"
    with pytest.raises(ConfigError, match=r"cannot read flags\.file"):
        load_config(None, overrides={**overrides, "flags": {"file": missing}}, environ={})
    bad = tmp_path / "bad.json"
    bad.write_text('{"flags": {"f": {"state": "ON"}}}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"flags\.f\.state"):
        load_config(None, overrides={**overrides, "flags": {"file": bad}}, environ={})
