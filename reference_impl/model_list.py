"""``GET /v1/models``: the models the gateway serves, in OpenAI's list shape.

The list is the configured models (chat and embedding), in the config's order, built once.
The gateway does not know when a model was made, so ``created`` is 0; ``owned_by`` names the
gateway, which decides what is served.
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, ConfigDict

from .config import GatewayConfig


OWNER = "meltproof"
ALWAYS_SENT = ConfigDict(json_schema_serialization_defaults_required=True)
"""Fields with defaults are in every answer: required in the documented schema."""


class ModelObject(BaseModel):
    """A model the gateway serves (``model`` in a request body)."""

    model_config = ALWAYS_SENT
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = OWNER


class ModelList(BaseModel):
    """Every model the gateway serves."""

    model_config = ALWAYS_SENT
    object: Literal["list"] = "list"
    data: list[ModelObject]


def model_list(config: GatewayConfig) -> ModelList:
    """The served models of ``config``."""
    return ModelList(data=[ModelObject(id=route.name) for route in config.models])


def list_models(config: GatewayConfig) -> Handler:
    """The handler of ``GET /v1/models`` for ``config`` (the tenant is checked by ``auth``)."""
    body = model_list(config).model_dump_json().encode()

    async def handler(_request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, content_type="application/json")

    return handler
