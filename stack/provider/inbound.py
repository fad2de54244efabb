"""Reading requests: body size, JSON, validation, API key, tenant, endpoint kind; common headers."""

from __future__ import annotations

import asyncio
import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from stack.provider.errors import (
    PARSE_ERROR,
    AuthenticationError,
    BadRequestError,
    PayloadTooLargeError,
    from_validation,
)
from stack.provider.keys import REQUEST_ID, STARTED


M = TypeVar("M", bound=BaseModel)
READ_CHUNK = 64 * 1024
NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, refusing anything over ``limit`` bytes with 413."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise _too_large(declared, limit)
    body = bytearray()
    while chunk := await request.content.read(READ_CHUNK):
        body += chunk
        if len(body) > limit:
            raise _too_large(len(body), limit)
    return bytes(body)


def _too_large(size: int, limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"Request body too large: {size} bytes is over the limit of {limit} bytes.",
        code="request_too_large",
    )


def parse_object(body: bytes) -> dict[str, Any]:
    """A JSON object body, or 400."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise BadRequestError(PARSE_ERROR) from None
    if not isinstance(data, dict):
        raise BadRequestError("Invalid request body: expected a JSON object.")
    return data


class Lenient(BaseModel):
    """A request body: known fields are strictly typed, unknown ones are accepted."""

    model_config = ConfigDict(extra="allow", strict=True)


def validate(model: type[M], data: object) -> M:
    """``data`` as ``model``, or 400 naming the bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise from_validation(err) from None


def api_key(request: web.Request) -> str:
    """The caller's API key (Bearer, or Azure's ``api-key`` header), or 401."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and key.strip():
        return key.strip()
    azure_key = request.headers.get("api-key", "").strip()
    if azure_key:
        return azure_key
    raise AuthenticationError(NO_KEY)


def tenant(request: web.Request) -> str:
    """The tenant a request is counted for."""
    return request.headers.get("X-Tenant-Id") or "-"


ENDPOINT_KINDS = {"/v1/chat/completions": "chat", "/v1/embeddings": "embeddings"}


def endpoint_kind(request: web.Request) -> str:
    """The kind of ``/v1/`` call a request is counted as: chat, embeddings, models or other."""
    kind = ENDPOINT_KINDS.get(request.path)
    if kind is not None:
        return kind
    return "models" if request.path.startswith("/v1/models") else "other"


def common_headers(request: web.Request) -> dict[str, str]:
    """Headers every API response carries."""
    elapsed = asyncio.get_running_loop().time() - request[STARTED]
    return {
        "x-request-id": request[REQUEST_ID],
        "openai-processing-ms": str(round(elapsed * 1000)),
    }
