"""Typed keys of the application's state, all in one place."""

from __future__ import annotations

from aiohttp import ClientSession, web

from .config import GatewayConfig


CONFIG = web.AppKey("config", GatewayConfig)
UPSTREAM = web.AppKey("upstream", ClientSession)
