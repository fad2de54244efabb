"""How a run reaches its target: where the load goes, with which keys and headers, and what
of the stack behind it the run can see (the provider's ground truth) and perturb (faults).

=========================== =============================== ============================
target                      stack                           faults on
=========================== =============================== ============================
``gateway`` (ours)          started by the run              every link, Redis, PostgreSQL
``command`` / ``peer``      started by the run              the links it is given
``url`` with ``stack``      ``meltproof up --no-gateway``   the links in ``uses``
``url``                     none                            none
=========================== =============================== ============================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faults import FaultContext
from stack import Stack
from stack.attached import AttachedStack
from stack.provider_control import ProviderControl

from .schema import ScenarioSpec, SuiteError


@dataclass(frozen=True)
class Wiring:
    """Everything a run needs from its target and the stack behind it."""

    base_url: str
    api_keys: Mapping[str, str]
    headers: Mapping[str, str] = field(default_factory=dict)
    faults: FaultContext = field(default_factory=FaultContext)
    provider: ProviderControl | None = None
    """The simulated provider behind the target, whose counters judge it (None: not wired)."""
    gateway_pid: int | None = None
    """The target's process, when this run started it (its CPU time is measured)."""
    attached: bool = False
    """Whether the stack behind the target belongs to another process (``meltproof up``)."""


def stack_wiring(stack: Stack, keys: Mapping[str, str]) -> Wiring:
    """A target that runs on a stack this run started."""
    gateway = stack.services.get("gateway")
    if stack.endpoints.gateway is None or gateway is None:
        raise SuiteError("the stack runs no gateway to send load to")
    return Wiring(
        base_url=stack.endpoints.gateway,
        api_keys=keys,
        headers=stack.gateway_headers,
        faults=FaultContext.of_stack(stack),
        provider=stack.provider,
        gateway_pid=gateway.pid,
    )


def url_wiring(spec: ScenarioSpec, keys: Mapping[str, str], cwd: Path) -> Wiring:
    """A gateway running elsewhere: bare, or wired to the links of a running stack."""
    target = spec.target
    assert target.url is not None  # noqa: S101 - only called for url targets
    if target.stack is None:
        return Wiring(base_url=target.url, api_keys=keys)
    attached = AttachedStack.open(cwd / target.stack)
    return Wiring(
        base_url=target.url,
        api_keys=keys,
        faults=FaultContext(toxiproxy=attached.toxiproxy, provider=attached.provider),
        provider=attached.provider,
        attached=True,
    )


def target_facts(spec: ScenarioSpec, stack: Stack | None) -> dict[str, Any] | None:
    """What the run records about a target that is not ours (ours: ``_gateway_facts``)."""
    target = spec.target
    command = stack.gateway_command if stack is not None else None
    if command is not None:
        assert stack is not None  # noqa: S101 - a command runs on a stack
        return {
            "kind": "peer" if target.peer else "command",
            "name": command.name,
            "version": command.version,
            "config": {name: _read(stack.run_dir / name) for name in sorted(command.files)},
            "headers": sorted(command.headers),
            "links": sorted(command.links_used()),
        }
    if target.url is not None:
        return {"kind": "url", "name": "url", "url": target.url, "stack": target.stack}
    return None


def _read(path: Path) -> str:
    """A generated config file as the gateway read it (placeholders filled)."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return f"(unreadable: {exc})"
