"""Tenants from API keys: ``Authorization: Bearer <key>`` (or ``api-key``), mapped in config."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from .errors import json_error
from .keys import GATEWAY, TENANT


PROTECTED_PREFIX = "/v1/"


def _presented_key(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("api-key") or None


@web.middleware
async def tenants(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve the tenant of every ``/v1/`` request; an unknown or missing key gets a JSON 401."""
    if not request.path.startswith(PROTECTED_PREFIX):
        return await handler(request)
    key = _presented_key(request)
    if key is None:
        return json_error(
            401,
            "missing API key: send 'Authorization: Bearer <key>'",
            error_type="invalid_request_error",
            code="missing_api_key",
        )
    tenant = request.app[GATEWAY].tenants_by_key.get(key)
    if tenant is None:
        return json_error(
            401,
            "the API key is not known",
            error_type="invalid_request_error",
            code="invalid_api_key",
        )
    request[TENANT] = tenant
    return await handler(request)
