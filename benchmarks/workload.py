"""The workload: seeded arrivals and a request mix, expanded into a schedule up front.

Each click draws one tenant and one endpoint by weight, and one prompt by popularity.
A click fans out into k parallel requests (k uniform in [min_parts, max_parts]) that
share its intended time, tenant and endpoint; part j asks about the same entity with
template ``(t + j) % templates``, where t is the template of the click's prompt, like a
copilot click that asks several questions about one candidate.

Arrivals, tenants, endpoints, prompts and fan-out each draw from their own child of
``np.random.SeedSequence(seed)``: the same seed gives the same schedule, and changing
one part of the mix (say the tenant weights) leaves the others as they were.

Each prompt has one size and one temperature (``token_lengths``): its text as the catalogue
writes it, or padded to ``prompt_tokens`` drawn from a distribution; ``max_tokens`` a number
or a distribution; its temperature drawn from a mix (0 by default). They are drawn per prompt
id from the seed, so a repeated prompt is the same request each time.

A workload with ``replay`` sends a recorded trace instead (``replay``): its tenants,
endpoints, requests and (for an access log) times; the mix above is not used.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from .arrivals import Arrivals, Constant, Ramp, RateShape, Sine, Stage, Stages
from .endpoints import RequestSpec
from .popularity import PromptCatalogue
from .replay import Replay
from .schedule import Schedule
from .token_lengths import (
    CHAT_OVERHEAD_TOKENS,
    DISTRIBUTIONS,
    Lengths,
    LogNormal,
    TemperatureMix,
    Uniform,
    draw,
    padded,
)


_MAX_TENANTS = 1 << 16
_MAX_ENDPOINTS = 1 << 8
_MAX_PARTS = (1 << 8) - 1
_SHAPES: Mapping[str, type[RateShape]] = MappingProxyType(
    {"constant": Constant, "ramp": Ramp, "stages": Stages, "sine": Sine}
)
_PROMPT_TOKENS, _MAX_TOKENS, _TEMPERATURE = 1, 2, 3
"""The streams of the per-prompt draws (``token_lengths.draw``)."""
_NOT_CHAT = frozenset({"embeddings"})


def _check_share(kind: str, name: str, weight: float) -> None:
    if not (isinstance(name, str) and name):
        raise ValueError(f"{kind} name must be a non-empty string, got {name!r}")
    if not (math.isfinite(weight) and weight > 0):
        raise ValueError(f"weight of {kind} {name!r} must be finite and > 0, got {weight!r}")


@dataclass(frozen=True)
class TenantShare:
    """A tenant and its share of the clicks; a noisy tenant is one with a large weight."""

    name: str
    weight: float
    api_key: str | None = None

    def __post_init__(self) -> None:
        _check_share("tenant", self.name, self.weight)
        if self.api_key is not None and not (isinstance(self.api_key, str) and self.api_key):
            raise ValueError(f"api_key of tenant {self.name!r} must be None or a non-empty string")


@dataclass(frozen=True)
class EndpointShare:
    """An endpoint (``chat``, ``chat_stream``, ``embeddings``, ...) and its share of the clicks."""

    name: str
    weight: float

    def __post_init__(self) -> None:
        _check_share("endpoint", self.name, self.weight)


@dataclass(frozen=True)
class FanOut:
    """One click is k parallel requests, k uniform in [min_parts, max_parts]."""

    min_parts: int = 1
    max_parts: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.min_parts <= self.max_parts <= _MAX_PARTS:
            raise ValueError(
                f"need 1 <= min_parts <= max_parts <= {_MAX_PARTS},"
                f" got min_parts={self.min_parts!r}, max_parts={self.max_parts!r}"
            )

    def sample(self, n: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
        """The number of parts of each of ``n`` clicks."""
        choices = self.max_parts - self.min_parts + 1
        offset = np.minimum((rng.random(n) * choices).astype(np.int64), choices - 1)
        return self.min_parts + offset


@dataclass(frozen=True)
class Workload:
    """Seeded arrivals and a request mix; ``schedule`` expands them into requests."""

    arrivals: Arrivals
    tenants: tuple[TenantShare, ...] = (TenantShare("default", 1.0),)
    endpoints: tuple[EndpointShare, ...] = (EndpointShare("chat", 1.0),)
    prompts: PromptCatalogue = field(default_factory=PromptCatalogue)
    fanout: FanOut = field(default_factory=FanOut)
    model: str = "gpt-4o-mini"
    max_tokens: int | Lengths = 64
    seed: int = 0
    prompt_tokens: Lengths | None = None
    """Prompt tokens of each prompt; None: the catalogue's text as it is."""
    temperature: TemperatureMix = field(default_factory=TemperatureMix)
    replay: Replay | None = None
    prompt_prefix: str = ""
    """Put before every prompt it makes up: another workload's requests (a steady-state
    probe's) then never share a cache entry with this one's."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tenants", tuple(self.tenants))
        object.__setattr__(self, "endpoints", tuple(self.endpoints))
        _check_types("arrivals", (self.arrivals,), Arrivals)
        _check_types("tenants", self.tenants, TenantShare, limit=_MAX_TENANTS)
        _check_types("endpoints", self.endpoints, EndpointShare, limit=_MAX_ENDPOINTS)
        _check_types("prompts", (self.prompts,), PromptCatalogue)
        _check_types("fanout", (self.fanout,), FanOut)
        if self.fanout.max_parts > self.prompts.templates:
            raise ValueError(
                f"fanout.max_parts ({self.fanout.max_parts}) must not exceed prompts.templates"
                f" ({self.prompts.templates}): each part of a click asks with its own template"
            )
        if not (isinstance(self.model, str) and self.model):
            raise ValueError(f"model must be a non-empty string, got {self.model!r}")
        if not (
            isinstance(self.max_tokens, LogNormal | Uniform)
            or (isinstance(self.max_tokens, int) and self.max_tokens >= 1)
        ):
            raise ValueError(
                f"max_tokens must be an int >= 1 or a distribution, got {self.max_tokens!r}"
            )
        if not (self.prompt_tokens is None or isinstance(self.prompt_tokens, LogNormal | Uniform)):
            raise TypeError(f"prompt_tokens must be a distribution, got {self.prompt_tokens!r}")
        _check_types("temperature", (self.temperature,), TemperatureMix)
        if self.replay is not None:
            _check_types("replay", (self.replay,), Replay)
        if not (isinstance(self.seed, int) and self.seed >= 0):
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")

    def with_noisy_tenant(
        self, share: float, *, name: str = "noisy", api_key: str | None = None
    ) -> Workload:
        """This workload plus a tenant ``name`` making ``share`` (0 < share < 1) of the clicks."""
        if not 0 < share < 1:
            raise ValueError(f"share must be in (0, 1), got {share!r}")
        others = math.fsum(tenant.weight for tenant in self.tenants)
        noisy = TenantShare(name, others * share / (1 - share), api_key)
        return dataclasses.replace(self, tenants=(*self.tenants, noisy))

    @classmethod
    def replaying(
        cls,
        replay: Replay,
        *,
        api_keys: Mapping[str, str | None],
        arrivals: Arrivals | None = None,
        seed: int = 0,
    ) -> Workload:
        """The workload of ``replay``: the trace's tenants (each with its key from ``api_keys``,
        if any) and endpoints. ``arrivals`` place a batch file's requests; an access log's
        requests keep their own times."""
        trace = replay.trace()
        if arrivals is None:
            if not replay.timed:
                raise ValueError(f"{replay.source} has no arrival times: give arrivals (a rate)")
            arrivals = Arrivals(Constant(max(len(trace) / replay.duration_s(), 1e-3)))
        chat = [trace.endpoints[e] not in _NOT_CHAT for e in trace.endpoint]
        model = trace.model[np.flatnonzero(chat)[0]] if any(chat) else trace.model[0]
        return cls(
            arrivals=arrivals,
            tenants=tuple(TenantShare(name, 1.0, api_keys.get(name)) for name in trace.tenants),
            endpoints=tuple(EndpointShare(name, 1.0) for name in trace.endpoints),
            model=trace.models[int(model)],
            seed=seed,
            replay=replay,
        )

    def request_spec(self, schedule: Schedule, index: int, api_key: str | None) -> RequestSpec:
        """What row ``index`` of ``schedule`` (a slice of this workload's) sends."""
        if self.replay is not None:
            spec = self.replay.request_spec(
                int(schedule.row[index]), api_key=api_key, seed=self.seed
            )
            if not self.prompt_prefix or spec.content is not None:
                return spec
            return dataclasses.replace(spec, prompt=self.prompt_prefix + spec.prompt)
        tenant = int(schedule.tenant[index])
        prompt = int(schedule.prompt[index])
        text = self.prompt_prefix + self.prompts.text(prompt)
        if self.prompt_tokens is not None:
            tokens = self.prompt_tokens.length(draw(self.seed, _PROMPT_TOKENS, prompt))
            chat = schedule.endpoints[int(schedule.endpoint[index])] not in _NOT_CHAT
            text = padded(text, tokens - (CHAT_OVERHEAD_TOKENS if chat else 0))
        max_tokens = self.max_tokens
        if not isinstance(max_tokens, int):
            max_tokens = max_tokens.length(draw(self.seed, _MAX_TOKENS, prompt))
        mix = self.temperature.weights
        temperature = mix[0][0]
        if len(mix) > 1:
            temperature = self.temperature.temperature(draw(self.seed, _TEMPERATURE, prompt))
        return RequestSpec(
            tenant=schedule.tenants[tenant],
            api_key=api_key,
            prompt=text,
            model=self.model,
            max_tokens=max_tokens,
            tenant_index=tenant,
            entity=prompt % self.prompts.entities,
            temperature=int(temperature) if float(temperature).is_integer() else temperature,
        )

    def schedule(self, duration_s: float) -> Schedule:
        """Every request of a run of ``duration_s``, sorted by intended time."""
        rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(self.seed).spawn(5)]
        arrival_rng, tenant_rng, endpoint_rng, prompt_rng, fanout_rng = rngs
        if self.replay is not None:
            timed = self.replay.timed
            times = None if timed else self.arrivals.times(duration_s, arrival_rng)
            return self.replay.schedule(duration_s, times)
        times = self.arrivals.times(duration_s, arrival_rng)
        clicks = len(times)
        tenant = _pick([t.weight for t in self.tenants], clicks, tenant_rng)
        endpoint = _pick([e.weight for e in self.endpoints], clicks, endpoint_rng)
        template, entity = np.divmod(self.prompts.sample(clicks, prompt_rng), self.prompts.entities)
        parts = self.fanout.sample(clicks, fanout_rng)

        click = np.repeat(np.arange(clicks, dtype=np.int32), parts)
        part = np.arange(len(click)) - np.repeat(np.cumsum(parts) - parts, parts)
        part_template = (template[click] + part) % self.prompts.templates
        return Schedule(
            intended_s=times[click],
            tenant=tenant[click].astype(np.uint16),
            endpoint=endpoint[click].astype(np.uint8),
            prompt=(part_template * self.prompts.entities + entity[click]).astype(np.int32),
            click=click,
            part=part.astype(np.uint8),
            row=np.arange(len(click), dtype=np.int64),
            tenants=tuple(t.name for t in self.tenants),
            endpoints=tuple(e.name for e in self.endpoints),
            duration_s=float(duration_s),
        )

    def to_dict(self) -> dict[str, object]:
        """A JSON-serialisable form; rate shapes are tagged by ``kind``."""
        plain = {
            f.name: _plain(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.name != "replay"
        }
        plain["arrivals"] = {
            "shape": _shape_to_dict(self.arrivals.shape),
            "process": self.arrivals.process,
        }
        plain["replay"] = None if self.replay is None else self.replay.to_dict()
        return plain

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Workload:
        """The workload of a ``to_dict`` form; a ValueError names what is wrong and where."""
        return _build(
            cls,
            data,
            "workload",
            arrivals=lambda v, w: _build(Arrivals, v, w, shape=_shape_from_dict),
            tenants=_tuple_of(TenantShare),
            endpoints=_tuple_of(EndpointShare),
            prompts=lambda v, w: _build(PromptCatalogue, v, w),
            fanout=lambda v, w: _build(FanOut, v, w),
            max_tokens=_max_tokens_from_dict,
            prompt_tokens=lambda v, w: None if v is None else _lengths_from_dict(v, w),
            temperature=lambda v, w: _build(TemperatureMix, v, w, weights=_pairs),
            replay=lambda v, w: None if v is None else _build(Replay, v, w),
        )


def _check_types(name: str, values: tuple[object, ...], kind: type, *, limit: int = 1) -> None:
    if not 1 <= len(values) <= limit:
        raise ValueError(f"{name} must have 1 to {limit} entries, got {len(values)}")
    for value in values:
        if not isinstance(value, kind):
            raise TypeError(f"{name} must hold {kind.__name__} values, got {value!r}")
    names = [getattr(value, "name", None) for value in values]
    if len(set(names)) != len(names):
        raise ValueError(f"{name} must have distinct names, got {names}")


def _pick(weights: list[float], n: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """``n`` indices drawn with probability proportional to ``weights``."""
    cdf = np.cumsum(np.asarray(weights, dtype=np.float64))
    cdf /= cdf[-1]
    cdf[-1] = 1.0
    return np.searchsorted(cdf, rng.random(n), side="right").astype(np.int64)


def _fields_plain(value: Any) -> dict[str, object]:
    """A dataclass's fields as a dict of plain values."""
    return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}


def _plain(value: object) -> object:
    """Dataclasses as dicts and tuples as lists, recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _fields_plain(value)
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def _shape_to_dict(shape: RateShape) -> dict[str, object]:
    for kind, cls in _SHAPES.items():
        if type(shape) is cls:
            return {"kind": kind, **_fields_plain(shape)}
    raise ValueError(f"cannot serialise rate shape {shape!r}: only {sorted(_SHAPES)} can be")


def _shape_from_dict(data: object, where: str) -> RateShape:
    fields = dict(_mapping(data, where))
    kind = fields.pop("kind", None)
    if kind not in _SHAPES:
        raise ValueError(f"{where}.kind must be one of {sorted(_SHAPES)}, got {kind!r}")
    return _build(_SHAPES[str(kind)], fields, where, stages=_tuple_of(Stage))


def _lengths_from_dict(data: object, where: str) -> Lengths:
    fields = _mapping(data, where)
    kind = fields.get("dist")
    if kind not in DISTRIBUTIONS:
        raise ValueError(f"{where}.dist must be one of {sorted(DISTRIBUTIONS)}, got {kind!r}")
    return _build(DISTRIBUTIONS[str(kind)], fields, where)


def _max_tokens_from_dict(data: object, where: str) -> int | Lengths:
    if isinstance(data, int) and not isinstance(data, bool):
        return data
    if isinstance(data, Mapping):
        return _lengths_from_dict(data, where)
    raise ValueError(f"{where} must be an integer or a distribution, got {data!r}")


def _pairs(data: object, where: str) -> tuple[tuple[float, float], ...]:
    """A list of [temperature, weight] pairs."""
    pairs = []
    for i, item in _items(data, where):
        numbers = _SCALARS["float"][1]
        if not (isinstance(item, list | tuple) and len(item) == 2 and all(map(numbers, item))):  # noqa: PLR2004 - a pair
            raise ValueError(f"{where}[{i}] must be a [temperature, weight] pair, got {item!r}")
        pairs.append((float(item[0]), float(item[1])))
    return tuple(pairs)


T = TypeVar("T")
Parser = Callable[[object, str], Any]
_SCALARS: Mapping[str, tuple[str, Callable[[object], bool]]] = MappingProxyType(
    {
        "float": ("a number", lambda v: isinstance(v, int | float) and not isinstance(v, bool)),
        "int": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
        "bool": ("true or false", lambda v: isinstance(v, bool)),
        "str": ("a string", lambda v: isinstance(v, str)),
        "Process": ("a string", lambda v: isinstance(v, str)),
        "str | None": ("a string or null", lambda v: v is None or isinstance(v, str)),
    }
)


def _mapping(data: object, where: str) -> Mapping[str, object]:
    if not isinstance(data, Mapping):
        raise ValueError(f"{where} must be a mapping, got {type(data).__name__}")  # noqa: TRY004
    return data


def _items(data: object, where: str) -> list[tuple[int, object]]:
    if not isinstance(data, list | tuple):
        raise ValueError(f"{where} must be a list, got {type(data).__name__}")  # noqa: TRY004
    return list(enumerate(data))


def _tuple_of(cls: type[T]) -> Callable[[object, str], tuple[T, ...]]:
    """A parser of a list of ``cls`` mappings."""

    def parse(data: object, where: str) -> tuple[T, ...]:
        return tuple(_build(cls, item, f"{where}[{i}]") for i, item in _items(data, where))

    return parse


def _build(cls: type[T], data: object, where: str, **parsers: Parser) -> T:
    """``cls`` from a mapping of its fields: scalars checked by type, the rest by ``parsers``."""
    fields = _mapping(data, where)
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise ValueError(f"{where} has unknown keys {unknown}; known keys are {sorted(known)}")
    kwargs: dict[str, object] = {}
    for name, spec in known.items():
        at = f"{where}.{name}"
        if name not in fields:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise ValueError(f"{at} is required")
            continue
        value = fields[name]
        if name in parsers:
            kwargs[name] = parsers[name](value, at)
            continue
        description, accepts = _SCALARS[str(spec.type)]
        if not accepts(value):
            raise ValueError(f"{at} must be {description}, got {value!r}")
        kwargs[name] = float(value) if spec.type == "float" else value  # type: ignore[arg-type]
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from exc
