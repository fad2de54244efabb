"""``--target``: run a scenario against another system under test than its file names.

A value is ``naive`` or ``hardened`` (our gateway in that profile, keeping the scenario's
gateway settings when it has some), ``litellm`` or ``portkey`` (a built-in peer), or a YAML file
holding a scenario's ``target`` mapping (a ``command``, a ``url`` ...). The scenario's client
timeout is kept unless the file sets one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, get_args

import click
import yaml
from pydantic import ValidationError

from .schema import (
    PeerName,
    Profile,
    ScenarioSpec,
    SuiteError,
    TargetSpec,
    UnfitTargetError,
    unfelt_fault,
)


F = TypeVar("F", bound=Callable[..., Any])

PROFILES: tuple[str, ...] = get_args(Profile)
PEERS: tuple[str, ...] = get_args(PeerName)
BUILT_IN = (*PROFILES, *PEERS)
DEFAULT_MATRIX = ",".join(BUILT_IN)
HELP = (
    "The system under test: naive or hardened (our gateway), litellm or portkey (built-in "
    "peers), or a YAML file with a scenario's target mapping (e.g. a command)."
)


def with_target(spec: ScenarioSpec, value: str) -> ScenarioSpec:
    """``spec`` aimed at the target ``value`` names: ``UnfitTargetError`` if the scenario
    cannot run against it, ``SuiteError`` if ``value`` names no valid target."""
    data = spec.model_dump(mode="json", exclude_unset=True)
    data["target"] = _target_data(spec, value)
    try:
        target = TargetSpec.model_validate(data["target"])
        unfelt = unfelt_fault(spec.faults, target.known_links(), target.label)
        if unfelt:
            raise UnfitTargetError(f"{spec.name}: {unfelt}")
        return ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        raise SuiteError(f"{spec.name} with target {value}: {_first_error(exc)}") from None


def label_of(value: str) -> str:
    """The column name of a ``--target`` value (a file's stem)."""
    return value if value in BUILT_IN else Path(value).stem


def _target_data(spec: ScenarioSpec, value: str) -> dict[str, Any]:
    timeout = {"timeout_s": spec.target.timeout_s}
    if value in PROFILES:
        gateway = spec.target.gateway
        kept = gateway.model_dump(mode="json", exclude_unset=True) if gateway else {}
        return {**timeout, "gateway": {**kept, "profile": value}}
    if value in PEERS:
        return {**timeout, "peer": value}
    return {**timeout, **_target_file(Path(value))}


def _target_file(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SuiteError(f"--target {path}: not {', '.join(BUILT_IN)}, and no such file") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SuiteError(f"--target {path}: cannot read it: {exc}") from None
    target = document.get("target", document) if isinstance(document, dict) else None
    if not isinstance(target, dict):
        raise SuiteError(f"--target {path}: give a mapping such as 'command: {{argv: [...]}}'")
    try:
        TargetSpec.model_validate(target)
    except ValidationError as exc:
        raise SuiteError(f"--target {path}: {_first_error(exc)}") from None
    return target


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    message = str(error["msg"]).removeprefix("Value error, ")
    field = ".".join(str(part) for part in error["loc"])
    return f"{field}: {message}" if field else message


def target_option() -> Callable[[F], F]:
    """The ``--target`` click option."""
    return click.option("--target", metavar="TARGET", help=HELP)
