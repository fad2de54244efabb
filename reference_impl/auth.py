"""Who may call what: tenants from API keys (``Authorization: Bearer <key>`` or ``api-key``,
mapped in config) on ``/v1/``, and the scrape token on ``/metrics``.

Every 401 is counted by its reason (its error code) in ``auth_failures_total``, and only
there: the request has no tenant, so it never reaches ``requests_total``."""

from __future__ import annotations

import hashlib
import hmac

from aiohttp import web

from .config import ENV_PREFIX
from .errors import json_error
from .keys import CONFIG, GATEWAY, METRICS, TENANT


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


def _unauthorized(request: web.Request, message: str, code: str) -> web.Response:
    """The JSON 401 of a missing or unknown key or token, counted by ``code``."""
    request.app[METRICS].auth_failure(reason=code)
    return json_error(401, message, error_type="invalid_request_error", code=code)


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
        return _unauthorized(
            request,
            "missing metrics token: send 'Authorization: Bearer <token>'",
            "missing_metrics_token",
        )
    if not _same_secret(presented, configured.get_secret_value()):
        return _unauthorized(request, "the metrics token is not known", "invalid_metrics_token")
    return None


def tenant_refusal(request: web.Request) -> web.Response | None:
    """Resolve the tenant of a ``/v1/`` request (``request[TENANT]``): None, or the JSON 401
    of an unknown or missing key. Other paths need no tenant."""
    if not request.path.startswith(PROTECTED_PREFIX):
        return None
    key = _presented_key(request)
    if key is None:
        return _unauthorized(
            request, "missing API key: send 'Authorization: Bearer <key>'", "missing_api_key"
        )
    tenant = request.app[GATEWAY].tenants_by_key.get(key)
    if tenant is None:
        return _unauthorized(request, "the API key is not known", "invalid_api_key")
    request[TENANT] = tenant
    return None
