"""The workload section of a scenario file, validated by pydantic and built into a ``Workload``.

It mirrors ``benchmarks.workload.Workload`` field for field, so that a mistake is reported
with its path (``workload.arrivals.shape.over_s``) and, through the loader, its line.

``replay: FILE`` (with ``speed``) replays a recorded trace instead (``benchmarks.replay``):
the file is read when the scenario is, its tenants and endpoints become the workload's, and
the synthetic mix's keys are refused beside it. A relative ``FILE`` is from the directory
meltproof runs in. An access log brings its own times; a batch file needs ``arrivals``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from benchmarks.arrivals import Arrivals, Constant, Ramp, RateShape, Sine, Stage, Stages
from benchmarks.endpoints import ENDPOINTS
from benchmarks.popularity import MAX_TEMPLATES, PromptCatalogue
from benchmarks.replay import Replay
from benchmarks.replay_trace import TraceError
from benchmarks.token_lengths import MAX_LENGTH, Lengths, LogNormal, TemperatureMix, Uniform
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


class LogNormalSpec(Strict):
    """Lengths whose logarithm is normal: half below ``median``, 95% below ``p95``."""

    dist: Literal["lognormal"]
    median: int = Field(ge=1, le=MAX_LENGTH)
    p95: int = Field(ge=1, le=MAX_LENGTH)


class UniformSpec(Strict):
    """Lengths uniform in [min, max]."""

    dist: Literal["uniform"]
    min: int = Field(ge=1, le=MAX_LENGTH)
    max: int = Field(ge=1, le=MAX_LENGTH)


LengthsSpec = Annotated[LogNormalSpec | UniformSpec, Field(discriminator="dist")]
_PLACEHOLDER_ARRIVALS = ArrivalsSpec(shape=ConstantShape(kind="constant", rate_rps=1))
_SYNTHETIC_ONLY = ("tenants", "endpoints", "prompts", "fanout", "model", "max_tokens",
                   "prompt_tokens", "temperature")  # fmt: skip


class WorkloadSpec(Strict):
    """Seeded arrivals and a request mix (see ``benchmarks.workload``), or a replayed file."""

    arrivals: ArrivalsSpec = _PLACEHOLDER_ARRIVALS
    """Required, but for the replay of an access log (which brings its own times)."""
    tenants: list[ShareSpec] = Field(default_factory=lambda: [ShareSpec(name="acme")], min_length=1)
    endpoints: list[ShareSpec] = Field(
        default_factory=lambda: [ShareSpec(name="chat")], min_length=1
    )
    prompts: PromptsSpec = PromptsSpec()
    fanout: FanOutSpec = FanOutSpec()
    model: str = Field("gpt-4o-mini", min_length=1)
    max_tokens: Annotated[int, Field(ge=1)] | LengthsSpec = 64
    """A number, or a distribution drawn once per prompt."""
    prompt_tokens: LengthsSpec | None = None
    """Prompt tokens of each prompt (padded); none: the catalogue's text as it is."""
    temperature: dict[float, float] = Field(default_factory=lambda: {0.0: 1.0}, min_length=1)
    """Temperature -> weight, drawn once per prompt; only 0 is cached."""
    replay: str | None = Field(None, min_length=1)
    """An access log or batch-API input file to replay instead of the synthetic mix."""
    speed: float | None = Field(None, gt=0)
    """How many times faster than recorded the replay goes (none: 1, as recorded)."""

    @model_validator(mode="before")
    @classmethod
    def _from_replay(cls, data: Any) -> Any:
        """A replay's tenants, endpoints and model come from its file."""
        if not isinstance(data, dict) or data.get("replay") is None:
            return data
        given = [name for name in _SYNTHETIC_ONLY if name in data]
        if given:
            raise ValueError(
                f"{', '.join(given)} cannot go with replay: the replayed file gives them"
            )
        replay = Replay(str(data["replay"]))
        try:
            timed = replay.timed
        except TraceError as exc:
            raise ValueError(str(exc)) from None
        if not timed and "arrivals" not in data:
            raise ValueError(f"{replay.source} has no arrival times: give workload.arrivals")
        if timed and "arrivals" in data:
            raise ValueError(f"arrivals cannot go with replay of {replay.source}, which has times")
        replayed = Workload.replaying(replay, api_keys={}, arrivals=Arrivals(Constant(1.0)))
        return {
            **data,
            "tenants": [{"name": tenant.name} for tenant in replayed.tenants],
            "endpoints": [{"name": share.name} for share in replayed.endpoints],
            "model": replayed.model,
        }

    @field_validator("temperature")
    @classmethod
    def _temperatures(cls, mix: dict[float, float]) -> dict[float, float]:
        TemperatureMix(tuple(mix.items()))
        return mix

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
        if self.replay is None and "arrivals" not in self.model_fields_set:
            raise ValueError("arrivals is required (or replay: FILE)")
        if self.replay is None and self.speed is not None:
            raise ValueError("speed goes with replay only")
        self.build(seed=0, api_keys={})
        return self

    def build(self, *, seed: int, api_keys: dict[str, str]) -> Workload:
        """The workload, each tenant with its key from ``api_keys`` if it has one there."""
        arrivals = Arrivals(_shape(self.arrivals.shape), self.arrivals.process)
        if self.replay is not None:
            return Workload.replaying(
                Replay(self.replay, 1.0 if self.speed is None else self.speed),
                api_keys=api_keys,
                arrivals=arrivals if "arrivals" in self.model_fields_set else None,
                seed=seed,
            )
        return Workload(
            arrivals=arrivals,
            tenants=tuple(
                TenantShare(t.name, t.weight, api_keys.get(t.name)) for t in self.tenants
            ),
            endpoints=tuple(EndpointShare(e.name, e.weight) for e in self.endpoints),
            prompts=PromptCatalogue(
                self.prompts.templates, self.prompts.entities, self.prompts.skew
            ),
            fanout=FanOut(self.fanout.min_parts, self.fanout.max_parts),
            model=self.model,
            max_tokens=self.max_tokens
            if isinstance(self.max_tokens, int)
            else _lengths(self.max_tokens),
            seed=seed,
            prompt_tokens=None if self.prompt_tokens is None else _lengths(self.prompt_tokens),
            temperature=TemperatureMix(tuple(self.temperature.items())),
        )


def _lengths(spec: LogNormalSpec | UniformSpec) -> Lengths:
    if isinstance(spec, LogNormalSpec):
        return LogNormal(spec.median, spec.p95)
    return Uniform(spec.min, spec.max)


def _shape(spec: ShapeSpec) -> RateShape:
    if isinstance(spec, ConstantShape):
        return Constant(spec.rate_rps)
    if isinstance(spec, RampShape):
        return Ramp(spec.start_rps, spec.end_rps, spec.over_s)
    if isinstance(spec, StagesShape):
        return Stages(tuple(Stage(s.duration_s, s.rate_rps, s.ramp) for s in spec.stages))
    return Sine(spec.mean_rps, spec.amplitude_rps, spec.period_s)
