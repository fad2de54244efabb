"""The workload section of a scenario file, validated by pydantic and built into a ``Workload``.

It mirrors ``benchmarks.workload.Workload`` field for field, so that a mistake is reported
with its path (``workload.arrivals.shape.over_s``) and, through the loader, its line.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from benchmarks.arrivals import Arrivals, Constant, Ramp, RateShape, Sine, Stage, Stages
from benchmarks.endpoints import ENDPOINTS
from benchmarks.popularity import MAX_TEMPLATES, PromptCatalogue
from benchmarks.workload import EndpointShare, FanOut, TenantShare, Workload


class Strict(BaseModel):
    """Unknown keys are errors; values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ConstantShape(Strict):
    kind: Literal["constant"]
    rate_rps: float = Field(gt=0)


class RampShape(Strict):
    kind: Literal["ramp"]
    start_rps: float = Field(ge=0)
    end_rps: float = Field(ge=0)
    over_s: float = Field(gt=0)


class StageSpec(Strict):
    duration_s: float = Field(gt=0)
    rate_rps: float = Field(ge=0)
    ramp: bool = False
    """Ramp linearly to ``rate_rps`` from the stage before (from 0 for the first)."""


class StagesShape(Strict):
    kind: Literal["stages"]
    stages: list[StageSpec] = Field(min_length=1)


class SineShape(Strict):
    kind: Literal["sine"]
    mean_rps: float = Field(gt=0)
    amplitude_rps: float = Field(ge=0)
    period_s: float = Field(gt=0)


ShapeSpec = Annotated[
    ConstantShape | RampShape | StagesShape | SineShape, Field(discriminator="kind")
]


class ArrivalsSpec(Strict):
    shape: ShapeSpec
    process: Literal["poisson", "regular"] = "poisson"
    """Poisson arrivals (real traffic) or evenly spaced ones."""


class ShareSpec(Strict):
    name: str = Field(min_length=1)
    weight: float = Field(1.0, gt=0)


class PromptsSpec(Strict):
    templates: int = Field(20, ge=1, le=MAX_TEMPLATES)
    entities: int = Field(500, ge=1)
    skew: float = Field(1.1, ge=0)
    """Zipf exponent of prompt popularity: 0 is uniform, higher repeats more."""


class FanOutSpec(Strict):
    min_parts: int = Field(1, ge=1, le=255)
    max_parts: int = Field(1, ge=1, le=255)


class WorkloadSpec(Strict):
    """Seeded arrivals and a request mix (see ``benchmarks.workload``)."""

    arrivals: ArrivalsSpec
    tenants: list[ShareSpec] = Field(default_factory=lambda: [ShareSpec(name="acme")], min_length=1)
    endpoints: list[ShareSpec] = Field(
        default_factory=lambda: [ShareSpec(name="chat")], min_length=1
    )
    prompts: PromptsSpec = PromptsSpec()
    fanout: FanOutSpec = FanOutSpec()
    model: str = Field("gpt-4o-mini", min_length=1)
    max_tokens: int = Field(64, ge=1)

    @field_validator("endpoints")
    @classmethod
    def _known_endpoints(cls, endpoints: list[ShareSpec]) -> list[ShareSpec]:
        unknown = sorted({e.name for e in endpoints} - set(ENDPOINTS))
        if unknown:
            known = ", ".join(sorted(ENDPOINTS))
            raise ValueError(f"unknown endpoint {unknown[0]!r}; known endpoints: {known}")
        return endpoints

    @model_validator(mode="after")
    def _buildable(self) -> Self:
        """What only the whole workload can tell (distinct names, a valid sine, fan-out)."""
        self.build(seed=0, api_keys={})
        return self

    def build(self, *, seed: int, api_keys: dict[str, str]) -> Workload:
        """The workload, each tenant with its key from ``api_keys`` if it has one there."""
        return Workload(
            arrivals=Arrivals(_shape(self.arrivals.shape), self.arrivals.process),
            tenants=tuple(
                TenantShare(t.name, t.weight, api_keys.get(t.name)) for t in self.tenants
            ),
            endpoints=tuple(EndpointShare(e.name, e.weight) for e in self.endpoints),
            prompts=PromptCatalogue(
                self.prompts.templates, self.prompts.entities, self.prompts.skew
            ),
            fanout=FanOut(self.fanout.min_parts, self.fanout.max_parts),
            model=self.model,
            max_tokens=self.max_tokens,
            seed=seed,
        )


def _shape(spec: ShapeSpec) -> RateShape:
    if isinstance(spec, ConstantShape):
        return Constant(spec.rate_rps)
    if isinstance(spec, RampShape):
        return Ramp(spec.start_rps, spec.end_rps, spec.over_s)
    if isinstance(spec, StagesShape):
        return Stages(tuple(Stage(s.duration_s, s.rate_rps, s.ramp) for s in spec.stages))
    return Sine(spec.mean_rps, spec.amplitude_rps, spec.period_s)
