"""Prepare a scenario's target: our gateway's config, a command's, a peer's, or a URL's key.

For our gateway every tenant of the workload becomes a gateway tenant with a fresh key, with
the settings the scenario gives it (concurrency cap, budget), and ``/metrics`` gets a fresh
scrape token unless the scenario sets one; the file is written 0600 into the run directory and
never into a report. A command target becomes a ``GatewayCommand`` with
its keys resolved from the environment; a built-in peer's adapter writes its own.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from reference_impl.config import DEFAULT_MODELS, ModelRoute
from stack.gateway_command import ClientAuth, GatewayCommand
from stack.provider.config import ProviderConfig

from .schema import CommandTarget, ScenarioSpec, SuiteError


def gateway_config(spec: ScenarioSpec, directory: Path) -> tuple[Path, dict[str, str]]:
    """Write the gateway's config for ``spec``; return its path and tenant -> API key."""
    gateway = spec.target.gateway
    if gateway is None:
        raise ValueError("the scenario's target is not our gateway")
    keys = {t.name: f"sk-{t.name}-{secrets.token_hex(12)}" for t in spec.workload.tenants}
    unknown = sorted(set(gateway.tenants) - set(keys))
    if unknown:
        raise SuiteError(
            f"{spec.name}: target.gateway.tenants names {', '.join(unknown)}, "
            "which the workload does not send as"
        )
    tenants = []
    for name, key in keys.items():
        settings = gateway.tenants.get(name)
        extra = settings.model_dump(exclude_none=True) if settings else {}
        tenants.append({"name": name, "api_key": key, **extra})
    document: dict[str, Any] = {
        "metrics_token": f"metrics-{secrets.token_hex(16)}",  # to scrape a run by hand
        **gateway.settings,
        "tenants": tenants,
    }
    path = directory / "gateway.yaml"
    _write_private(path, yaml.safe_dump(document, sort_keys=False))
    return path, keys


def provider_config(spec: ScenarioSpec, directory: Path) -> Path | None:
    """Write the simulated provider's config, if the scenario sets one."""
    if spec.provider is None:
        return None
    path = directory / "provider.json"
    path.write_text(spec.provider.model_dump_json(indent=1) + "\n", encoding="utf-8")
    return path


def foreign_api_keys(spec: ScenarioSpec, environ: Mapping[str, str]) -> dict[str, str]:
    """Every tenant's key for a foreign URL: the one named by ``api_key_env``, if any."""
    name = spec.target.api_key_env
    if name is None:
        return {}
    key = environ.get(name)
    if not key:
        raise SuiteError(f"{spec.name}: target.api_key_env names {name}, which is not set")
    return {t.name: key for t in spec.workload.tenants}


def command_of(target: CommandTarget, environ: Mapping[str, str]) -> GatewayCommand:
    """The ``GatewayCommand`` of a scenario's command target, its key read from ``environ``."""
    auth = target.auth
    key = auth.key
    if auth.key_env is not None:
        key = environ.get(auth.key_env)
        if not key:
            raise SuiteError(f"target.command.auth.key_env names {auth.key_env}, which is not set")
    return GatewayCommand(
        name=target.name,
        argv=tuple(target.argv),
        env=target.env,
        ready_path=target.ready_path,
        start_timeout_s=target.start_timeout_s,
        headers=target.headers,
        auth=ClientAuth(mode=auth.mode, key=key, keys=auth.keys),
    )


def peer_routes(spec: ScenarioSpec) -> list[ModelRoute]:
    """The models a peer serves: our gateway's default routes (and fallback chains) of the
    models the simulated provider deploys, a fallback to a model it lacks left out."""
    deployed = {model.name for model in (spec.provider or ProviderConfig()).models}
    return [
        route
        if route.fallback in deployed or route.fallback is None
        else route.model_copy(update={"fallback": None})
        for route in DEFAULT_MODELS
        if route.name in deployed
    ]


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
