"""Typed keys of the application's and the requests' state (the only ones used)."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from stack.provider.state import ProviderState
from stack.provider.stats import Ticket


STATE: Final = web.AppKey("meltproof.provider.state", ProviderState)
"""The provider's mutable state: config, deployments, limits, faults, stats."""

REQUEST_ID: Final = web.RequestKey("meltproof.provider.request_id", str)
"""The ``x-request-id`` of the request."""

STARTED: Final = web.RequestKey("meltproof.provider.started", float)
"""Event-loop time when the request arrived (for ``openai-processing-ms``)."""

TICKET: Final = web.RequestKey("meltproof.provider.ticket", Ticket)
"""The stats of an ``/v1/`` request."""
