"""A scenario: target + workload + fault timeline + checks + duration + seed.

Scenario files are YAML validated by ``ScenarioSpec`` (``meltproof scenario schema`` prints
its JSON Schema for editors); ``scenarios.loader`` adds the file and line to every error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from faults import FaultEvent
from faults.gateway.flag import FlagFault
from faults.process.base import ProcessFault
from faults.reach import link_of
from reference_impl.config import DEFAULT_MODELS
from stack import links
from stack.gateway_command import AuthMode, links_in
from stack.peers import peer_links
from stack.provider.config import ProviderConfig

from .checks import CheckSpec, ErrorRateCheck
from .workload_spec import Strict, WorkloadSpec


Profile = Literal["naive", "hardened"]
PeerName = Literal["litellm", "portkey"]
LinkName = Literal["postgres", "redis", "provider"]


class Price(Strict):
    """USD per 1M tokens."""

    input_per_mtok_usd: float = Field(ge=0)
    output_per_mtok_usd: float = Field(0.0, ge=0)


DEFAULT_PRICES: dict[str, Price] = {
    route.name: Price(
        input_per_mtok_usd=route.input_per_mtok_usd, output_per_mtok_usd=route.output_per_mtok_usd
    )
    for route in DEFAULT_MODELS
}
"""The reference gateway's list prices."""


class TenantSettings(Strict):
    """A tenant of our gateway: its concurrency cap and token budget (gateway config terms)."""

    concurrency_cap: int | None = Field(None, gt=0)
    budget: dict[str, Any] | None = None
    """The gateway's ``TenantConfig.budget`` (e.g. ``{limit_tokens: 50000}``)."""


class GatewayTarget(Strict):
    """Our reference gateway, started on the stack in a profile."""

    profile: Profile = "hardened"
    workers: int = Field(1, ge=1, le=16)
    settings: dict[str, Any] = Field(default_factory=dict)
    """Gateway config merged over the defaults (e.g. ``{cache: {ttl_s: 300}}``)."""
    tenants: dict[str, TenantSettings] = Field(default_factory=dict)
    """Settings of tenants; every workload tenant is a gateway tenant with its own key."""


class CommandAuth(Strict):
    """How clients authenticate to a command gateway; keys inline or from the environment."""

    mode: AuthMode = "none"
    """``none``, ``one_key`` (every tenant sends one key), ``key_per_tenant``, or
    ``tenant_header`` (one key; the tenant is named by the X-Tenant-Id header that every
    request carries)."""
    key: str | None = None
    key_env: str | None = None
    """The environment variable holding the one key."""
    keys: dict[str, str] = Field(default_factory=dict)
    """Tenant -> its key (``key_per_tenant``)."""

    @model_validator(mode="after")
    def _keys_given(self) -> Self:
        one_key = self.mode in {"one_key", "tenant_header"}
        if one_key and (self.key is None) == (self.key_env is None):
            raise ValueError(f"mode {self.mode} needs exactly one of 'key' or 'key_env'")
        if self.mode == "key_per_tenant" and not self.keys:
            raise ValueError("mode key_per_tenant needs 'keys' (tenant -> key)")
        return self


class CommandTarget(Strict):
    """Any gateway that meltproof starts as a process, wired through the stack's links.

    Placeholders in ``argv``, ``env`` and ``headers``: {port}, {provider_url} (the simulated
    provider through its link, without /v1), {redis_url}, {redis_host}, {redis_port},
    {database_url} (each through its link) and {run_dir}.
    """

    name: str = Field("command", pattern=r"^[A-Za-z0-9_.-]+$")
    """A label for reports."""
    argv: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    ready_path: str = "/"
    """Polled with GET until it answers below 500."""
    start_timeout_s: float = Field(60.0, gt=0, le=1800)
    headers: dict[str, str] = Field(default_factory=dict)
    """Sent with every client request."""
    auth: CommandAuth = CommandAuth()

    @model_validator(mode="after")
    def _wired(self) -> Self:
        texts = [*self.argv, *self.env.values()]
        if not any("{port}" in text for text in texts):
            raise ValueError("argv or env must pass {port}: the port the gateway must listen on")
        if not any("{provider_url}" in text for text in [*texts, *self.headers.values()]):
            raise ValueError(
                "argv, env or headers must pass {provider_url}: a gateway that does not reach "
                "the simulated provider through its link is not under test"
            )
        return self


class TargetSpec(Strict):
    """The system under test: ours, a command, a built-in peer, or a URL.

    A fault acts only on a link the target uses (``known_links``): a fault on any other link
    is refused when the scenario is read, before anything is installed or started.
    """

    gateway: GatewayTarget | None = None
    command: CommandTarget | None = None
    peer: PeerName | None = None
    """A built-in third-party gateway, installed once and configured for production."""
    url: str | None = None
    """A gateway running elsewhere; faults need ``stack`` and ``uses``."""
    stack: str | None = None
    """For ``url``: the run directory of ``meltproof up --no-gateway`` whose links it uses."""
    uses: list[LinkName] = Field(default_factory=list)
    """For ``url`` with ``stack``: the links the gateway was pointed at."""
    api_key_env: str | None = None
    """The environment variable holding the API key for ``url``."""
    timeout_s: float = Field(30.0, gt=0, le=3600)
    """When the client gives up on a request (it counts as unanswered)."""

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        given = [self.gateway, self.command, self.peer, self.url]
        if sum(target is not None for target in given) != 1:
            raise ValueError(
                "give exactly one of 'gateway' (ours), 'command' (any gateway meltproof "
                "starts), 'peer' (litellm or portkey) or 'url' (a gateway running elsewhere)"
            )
        if self.url is None and (self.stack is not None or self.uses):
            raise ValueError("'stack' and 'uses' go with a 'url' target only")
        if self.uses and self.stack is None:
            raise ValueError("'uses' needs 'stack': the run dir of the stack whose links it uses")
        return self

    def known_links(self) -> frozenset[str]:
        """The links the target uses: all of them for ours, those a command is given, those a
        peer's adapter wires, the ``uses`` of a url."""
        if self.peer is not None:
            return peer_links(self.peer)
        if self.gateway is not None:
            return frozenset(links.LINKS)
        if self.command is not None:
            command = self.command
            return links_in([*command.argv, *command.env.values(), *command.headers.values()])
        return frozenset(self.uses)

    @property
    def label(self) -> str:
        """A short name of the target for tables."""
        if self.gateway is not None:
            return self.gateway.profile
        if self.command is not None:
            return self.command.name
        return self.peer or "url"


def unfelt_fault(faults: Sequence[FaultEvent], used: frozenset[str], target: str) -> str | None:
    """What is wrong with the first fault that acts on a link outside ``used`` (the links
    ``target`` uses), if any."""
    for event in faults:
        if isinstance(event.fault, FlagFault):
            continue  # acts on the gateway's flags file, not on a link
        link = link_of(event.fault)
        if link not in used:
            using = ", ".join(sorted(used)) or "no link of the stack"
            return (
                f"fault {event.name!r} acts on the {link} link, which target {target} does not "
                f"use (it uses {using}), so it could not feel it"
            )
    return None


def _probe_checks() -> dict[str, CheckSpec]:
    """The probe's default: almost no errors."""
    return {"errors": ErrorRateCheck(kind="error_rate", max=0.01)}


class SteadyStateSpec(Strict):
    """A short probe before the load and after it; the run aborts if the first one fails."""

    enabled: bool = True
    duration_s: float = Field(5.0, gt=0, le=120)
    rate_rps: float = Field(2.0, gt=0)
    """Clicks per second of the probe (the workload's mix at a constant rate)."""
    checks: dict[str, CheckSpec] = Field(default_factory=_probe_checks, min_length=1)


class CorpusSettings(Strict):
    """The copilot corpus loaded when the workload clicks copilot endpoints."""

    chunks: int = Field(20_000, ge=1)
    dimensions: int = Field(1536, ge=1, le=16000)
    """Must match the gateway's ``retrieval.dimensions``."""


class ScenarioSpec(Strict):
    """One scenario of a suite."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="meltproof scenario")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    seed: int = Field(0, ge=0)
    duration_s: float = Field(gt=0, le=3600)
    target: TargetSpec = TargetSpec(gateway=GatewayTarget())
    provider: ProviderConfig | None = None
    """The simulated provider's models, latencies, slots and limits."""
    workload: WorkloadSpec
    faults: list[FaultEvent] = Field(default_factory=list)
    checks: dict[str, CheckSpec] = Field(min_length=1)
    steady_state: SteadyStateSpec = SteadyStateSpec()
    corpus: CorpusSettings = CorpusSettings()
    prices: dict[str, Price] = Field(default_factory=dict)
    """Prices per model, over ``DEFAULT_PRICES``."""

    @model_validator(mode="after")
    def _faults_fit(self) -> Self:
        if self.faults and self.target.url is not None and self.target.stack is None:
            raise ValueError(
                "faults act on the links of a stack meltproof runs; a 'url' target needs "
                "'stack' (the run dir of meltproof up --no-gateway) and 'uses' to have any"
            )
        url_process = [
            e.name for e in self.faults if self.target.url and isinstance(e.fault, ProcessFault)
        ]
        if url_process:
            raise ValueError(
                f"fault {url_process[0]!r} acts on a process of the stack, which only the "
                "meltproof up that started it can signal; a 'url' target takes link and "
                "provider faults (meltproof fault add acts on that stack's processes)"
            )
        command = self.target.command
        if command is not None and command.auth.mode == "key_per_tenant":
            keyless = [t.name for t in self.workload.tenants if t.name not in command.auth.keys]
            if keyless:
                raise ValueError(
                    f"target.command.auth.keys has no key for tenant {keyless[0]!r} of the "
                    "workload, whose requests would all be refused"
                )
        flagged = [e.label for e in self.faults if isinstance(e.fault, FlagFault)]
        if flagged and self.target.gateway is None:
            raise ValueError(
                f"fault {flagged[0]!r} flips a flag in our gateway's flags file; the target "
                "is not our gateway"
            )
        unfelt = unfelt_fault(self.faults, self.target.known_links(), self.target.label)
        if unfelt:
            raise ValueError(unfelt)
        late = [f.name or f.fault.kind for f in self.faults if f.at_s >= self.duration_s]
        if late:
            raise ValueError(f"fault {late[0]!r} starts at or after the end of the load")
        return self

    def all_prices(self) -> dict[str, Price]:
        """The default prices with this scenario's on top."""
        return DEFAULT_PRICES | self.prices


class SuiteError(Exception):
    """A scenario file or suite that cannot be used; the message names file, line and field."""


class UnfitTargetError(SuiteError):
    """The scenario cannot run against this target: it asks for what the target lacks (a
    fault on a link the target does not use, endpoints only meltproof's gateway serves)."""


def json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files, for editors."""
    return ScenarioSpec.model_json_schema()
