"""The control API under ``/_control``: config, faults, stats, reset.

GET    /_control/config   -> the ProviderConfig
PUT    /_control/config   <- a ProviderConfig; rebuilds deployments and buckets
GET    /_control/faults   -> {"default": FaultSettings | null, "models": {name: FaultSettings}}
PUT    /_control/faults   <- a FaultSettings plus optional "model"; -> the faults
DELETE /_control/faults   heals everything (or one model: ``?model=NAME``); -> the faults
GET    /_control/stats    -> {"total": {...}, "tenants": {...}, "models": {...},
                              "endpoints": {...}, "timeline": {...}}  (see ``stats``, ``timeline``)
DELETE /_control/stats    clears the stats only (config and faults stay); the timeline
                          starts again; 204
POST   /_control/reset    back to the start config; clears stats, faults, buckets; the
                          timeline starts again; 204
"""

from __future__ import annotations

from aiohttp import web

from stack.provider.config import ProviderConfig
from stack.provider.errors import BadRequestError
from stack.provider.faults import FaultSettings
from stack.provider.inbound import parse_object, read_body, validate
from stack.provider.keys import STATE
from stack.provider.outbound import json_response
from stack.provider.state import ProviderState


NO_HEADERS: dict[str, str] = {}


async def get_config(request: web.Request) -> web.StreamResponse:
    """The current config."""
    config = request.app[STATE].config
    return json_response(config.model_dump(mode="json"), headers=NO_HEADERS)


async def put_config(request: web.Request) -> web.StreamResponse:
    """Replace the config."""
    state = request.app[STATE]
    body = await read_body(request, state.config.max_body_bytes)
    config = validate(ProviderConfig, parse_object(body))
    state.apply(config)
    return json_response(config.model_dump(mode="json"), headers=NO_HEADERS)


async def get_faults(request: web.Request) -> web.StreamResponse:
    """The faults injected now."""
    return _faults(request.app[STATE])


async def put_faults(request: web.Request) -> web.StreamResponse:
    """Inject a fault spec, as the default or for one model."""
    state = request.app[STATE]
    data = parse_object(await read_body(request, state.config.max_body_bytes))
    model = data.pop("model", None)
    if model is not None and model not in state.runtime.specs:
        raise BadRequestError(f"Invalid value for 'model': unknown model {model!r}.", param="model")
    state.faults.set(validate(FaultSettings, data), model=model)
    return _faults(state)


async def delete_faults(request: web.Request) -> web.StreamResponse:
    """Heal every fault, or those of ``?model=NAME``."""
    state = request.app[STATE]
    state.faults.clear(model=request.query.get("model"))
    return _faults(state)


async def get_stats(request: web.Request) -> web.StreamResponse:
    """The ground-truth counters and the timeline of calls."""
    return json_response(request.app[STATE].stats.snapshot(), headers=NO_HEADERS)


async def clear_stats(request: web.Request) -> web.StreamResponse:
    """Zero the counters and start the timeline again; config and faults stay."""
    request.app[STATE].clear_stats()
    return web.Response(status=204)


async def reset(request: web.Request) -> web.StreamResponse:
    """Back to the start config; clear stats, faults and rate-limit buckets."""
    request.app[STATE].reset()
    return web.Response(status=204)


def _faults(state: ProviderState) -> web.StreamResponse:
    faults = state.faults
    payload = {
        "default": faults.default.model_dump(mode="json") if faults.default else None,
        "models": {name: spec.model_dump(mode="json") for name, spec in faults.models.items()},
    }
    return json_response(payload, headers=NO_HEADERS)


def add_routes(app: web.Application) -> None:
    """Register the control API on ``app``."""
    app.router.add_get("/_control/config", get_config)
    app.router.add_put("/_control/config", put_config)
    app.router.add_get("/_control/faults", get_faults)
    app.router.add_put("/_control/faults", put_faults)
    app.router.add_delete("/_control/faults", delete_faults)
    app.router.add_get("/_control/stats", get_stats)
    app.router.add_delete("/_control/stats", clear_stats)
    app.router.add_post("/_control/reset", reset)
