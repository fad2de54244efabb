"""Who may call what: tenants from API keys (``Authorization: Bearer <key>`` or ``api-key``,
mapped in config) on ``/v1/``, and the scrape token on ``/metrics``."""

from __future__ import annotations

import hashlib
import hmac

from aiohttp import web
from aiohttp.typedefs import Handler

from .config import ENV_PREFIX
from .errors import json_error
from .keys import CONFIG, GATEWAY, TENANT


PROTECTED_PREFIX = "/v1/"


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def _presented_key(request: web.Request) -> str | None:
    return _bearer(request) or request.headers.get("api-key") or None


def _same_secret(presented: str, expected: str) -> bool:
    """Constant-time comparison (of digests, so the length does not show either)."""
    digests = (hashlib.sha256(value.encode()).digest() for value in (presented, expected))
    return hmac.compare_digest(*digests)


def scrape_refusal(request: web.Request) -> web.Response | None:
    """``None`` when the request bears the configured metrics token; otherwise the JSON
    error: 401 when the token is missing or wrong, 403 when none is configured (the
    metrics are then off, since they show every tenant's traffic and spend)."""
    configured = request.app[CONFIG].metrics_token
    if configured is None:
        return json_error(
            403,
            "/metrics is off: set metrics_token in the gateway config (or "
            f"{ENV_PREFIX}METRICS_TOKEN) and scrape with 'Authorization: Bearer <token>'",
            error_type="invalid_request_error",
            code="metrics_disabled",
        )
    presented = _bearer(request)
    if presented is None:
        return json_error(
            401,
            "missing metrics token: send 'Authorization: Bearer <token>'",
            error_type="invalid_request_error",
            code="missing_metrics_token",
        )
    if not _same_secret(presented, configured.get_secret_value()):
        return json_error(
            401,
            "the metrics token is not known",
            error_type="invalid_request_error",
            code="invalid_metrics_token",
        )
    return None


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
