"""A scenario: target + workload + fault timeline + checks + duration + seed.

Scenario files are YAML validated by ``ScenarioSpec`` (``meltproof scenario schema`` prints
its JSON Schema for editors); ``scenarios.loader`` adds the file and line to every error.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from faults import FaultEvent
from reference_impl.config import DEFAULT_MODELS
from stack.provider.config import ProviderConfig

from .checks import CheckSpec, ErrorRateCheck
from .workload_spec import Strict, WorkloadSpec


Profile = Literal["naive", "hardened"]


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


class TargetSpec(Strict):
    """Where the load goes: our gateway on the stack, or any OpenAI-compatible URL."""

    gateway: GatewayTarget | None = None
    url: str | None = None
    """A gateway of yours; faults then apply only to what the stack runs (none by default)."""
    api_key_env: str | None = None
    """The environment variable holding the API key for ``url``."""
    timeout_s: float = Field(30.0, gt=0, le=3600)
    """When the client gives up on a request (it counts as unanswered)."""

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.gateway is None) == (self.url is None):
            raise ValueError("give exactly one of 'gateway' (ours) or 'url' (any gateway)")
        return self


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
        if self.faults and self.target.gateway is None:
            raise ValueError(
                "faults act on the stack meltproof starts; a 'url' target cannot have any"
            )
        late = [f.name or f.fault.kind for f in self.faults if f.at_s >= self.duration_s]
        if late:
            raise ValueError(f"fault {late[0]!r} starts at or after the end of the load")
        return self

    def all_prices(self) -> dict[str, Price]:
        """The default prices with this scenario's on top."""
        return DEFAULT_PRICES | self.prices


class SuiteError(Exception):
    """A scenario file or suite that cannot be used; the message names file, line and field."""


def json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files, for editors."""
    return ScenarioSpec.model_json_schema()
