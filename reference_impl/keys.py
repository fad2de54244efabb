"""Typed keys of the application's and the requests' state, all in one place."""

from __future__ import annotations

from aiohttp import web

from .config import GatewayConfig, TenantConfig
from .metrics import GatewayMetrics
from .state import Gateway


CONFIG = web.AppKey("config", GatewayConfig)
METRICS = web.AppKey("metrics", GatewayMetrics)
GATEWAY = web.AppKey("gateway", Gateway)
TENANT = web.RequestKey("tenant", TenantConfig)
"""Request key: the ``TenantConfig`` the API key belongs to (set by ``auth.tenants``)."""
