"""The models a scenario asks our gateway for, and those of them it will not serve.

Our gateway serves a model when its config routes it with the kind a request needs (chat or
embedding: the scenario's ``target.gateway.settings.models``, else the gateway's defaults) and
the simulated provider deploys it with that kind (``provider.models``, else the provider's
defaults). A scenario asks for:

- ``workload.model`` and every fallback of it, when the workload sends chat completions;
- the embeddings endpoint's model (and its fallbacks), when the workload sends embeddings;
- the copilot's model (``settings.copilot.model``) and its fallbacks, when it clicks the copilot;
- a provider fault's ``model``, which the provider must deploy (else the fault hits nothing).

Only our gateway is checked: what a foreign ``url`` target serves, meltproof cannot know.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from benchmarks.endpoints import ENDPOINTS, ChatCompletions, CopilotOutreach, CopilotSummarize
from benchmarks.endpoints import Embeddings as EmbeddingsEndpoint
from faults.provider.base import ProviderFault
from reference_impl.config import GatewayConfig
from stack.provider.config import ProviderConfig

from .schema import GatewayTarget, ScenarioSpec


Loc = tuple[str | int, ...]
"""A field of the scenario file, as pydantic locates it: ``("workload", "model")``."""
Problem = tuple[Loc, str]
"""A field and what is wrong with it."""

SETTINGS_LOC: Loc = ("target", "gateway", "settings")
_PLACEHOLDER_PROVIDER_URL = "http://provider.invalid/"  # the stack gives the real one


@dataclass(frozen=True)
class _Request:
    """A model some field of the scenario asks for."""

    loc: Loc
    model: str
    kind: str
    asker: str | None = None
    """Who asks, when the field is not the model's name (an endpoint)."""
    source: str = ""
    """Where the asker takes the model from, when that is not the field."""


def gateway_config_of(gateway: GatewayTarget) -> GatewayConfig:
    """The config our gateway will start with, but for its URLs and tenants; pydantic's
    ``ValidationError`` (located within ``settings``) when the settings are not valid."""
    document = {
        **gateway.settings,
        "provider_url": _PLACEHOLDER_PROVIDER_URL,
        "profile": gateway.profile,
        "tenants": [],
    }
    return GatewayConfig.model_validate(document)


def unserved_models(spec: ScenarioSpec, config: GatewayConfig) -> list[Problem]:
    """Every model ``spec`` asks for that our gateway, in ``config``, will not serve."""
    deployments = (spec.provider or ProviderConfig()).models
    deployed = {(model.name, model.kind) for model in deployments}
    served = {
        kind: [r.name for r in config.models if r.kind == kind and (r.name, kind) in deployed]
        for kind in ("chat", "embedding")
    }
    problems = [
        (request.loc, _unserved(request, model, served[request.kind]))
        for request in _requests(spec, config)
        for model in config.fallback_chain(request.model)
        if model not in served[request.kind]
    ]
    problems += _faults_on_missing_models(spec, [model.name for model in deployments])
    return list(dict.fromkeys(problems))


def _requests(spec: ScenarioSpec, config: GatewayConfig) -> Iterator[_Request]:
    """What each endpoint of the workload asks for."""
    for index, share in enumerate(spec.workload.endpoints):
        endpoint = ENDPOINTS[share.name]
        at: Loc = ("workload", "endpoints", index, "name")
        asker = f"the {share.name} endpoint"
        if isinstance(endpoint, ChatCompletions):
            yield _Request(("workload", "model"), spec.workload.model, "chat")
        elif isinstance(endpoint, EmbeddingsEndpoint):
            yield _Request(at, endpoint.model, "embedding", asker)
        elif isinstance(endpoint, CopilotSummarize | CopilotOutreach):
            source = "target.gateway.settings.copilot.model"
            yield _Request(at, config.copilot.model, "chat", asker, source)


def _faults_on_missing_models(spec: ScenarioSpec, deployed: Sequence[str]) -> list[Problem]:
    """A provider fault on a model the provider does not deploy would hit nothing."""
    problems: list[Problem] = []
    for index, event in enumerate(spec.faults):
        model = event.fault.model if isinstance(event.fault, ProviderFault) else None
        if model is not None and model not in deployed:
            message = f"{model!r} is not a model of the simulated provider; it has "
            problems.append((("faults", index, "fault", "model"), message + ", ".join(deployed)))
    return problems


def _unserved(request: _Request, model: str, served: Sequence[str]) -> str:
    """``'gpt-5' is not served by the target; it serves gpt-4o, ...`` and the like."""
    subject = repr(request.model)
    if request.asker is not None:
        source = f" ({request.source})" if request.source else ""
        subject = f"{request.asker} asks for {subject}{source}, which"
    if model != request.model:
        subject = f"{subject} falls back to {model!r}, which"
    return f"{subject} is not served by the target; it serves {', '.join(served) or 'none'}"
