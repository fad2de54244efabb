"""GET /v1/models and GET /v1/models/{model}."""

from __future__ import annotations

from aiohttp import web

from stack.provider.config import ModelSpec
from stack.provider.errors import NotFoundError
from stack.provider.inbound import api_key, common_headers
from stack.provider.keys import STATE
from stack.provider.outbound import json_response


CREATED = 1_715_367_049
OWNER = "meltproof"


def _model_object(spec: ModelSpec) -> dict[str, object]:
    return {"id": spec.name, "object": "model", "created": CREATED, "owned_by": OWNER}


async def list_models(request: web.Request) -> web.StreamResponse:
    """Every configured model."""
    api_key(request)
    specs = request.app[STATE].runtime.specs.values()
    payload = {"object": "list", "data": [_model_object(spec) for spec in specs]}
    return json_response(payload, headers=common_headers(request))


async def retrieve_model(request: web.Request) -> web.StreamResponse:
    """One model, or 404."""
    api_key(request)
    name = request.match_info["model"]
    spec = request.app[STATE].runtime.specs.get(name)
    if spec is None:
        raise NotFoundError(
            f"The model '{name}' does not exist", param="model", code="model_not_found"
        )
    return json_response(_model_object(spec), headers=common_headers(request))
