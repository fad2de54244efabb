"""The flags' two steps on the chat path: before the model is checked, and after.

``flag_chat_request`` rewrites the body's model to the flagged one (so the usual check of
the model applies to it); ``settle_flags`` then marks the body changed (it is re-encoded for
the provider), sets the flagged prompt version of a request that named none, and adds the
variant header. Without flags, ``flag_chat_request`` returns None after one attribute test.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .exchange import PROMPT_VERSION_HEADER, Exchange
from .flags import FLAG_VARIANT_HEADER, FlagChoice
from .keys import GATEWAY, TENANT


def flag_chat_request(request: web.Request, body: dict[str, Any]) -> FlagChoice | None:
    """The flags' choice for a valid chat ``body``, whose model it rewrites; None without."""
    flags = request.app[GATEWAY].flags
    if flags is None:
        return None
    choice = flags.choose(
        tenant=request[TENANT].name, model=str(body["model"]), user=body.get("user")
    )
    if choice is not None and choice.model is not None:
        body["model"] = choice.model
    return choice


def settle_flags(request: web.Request, exchange: Exchange, choice: FlagChoice) -> None:
    """Apply the rest of ``choice`` to the exchange started from the rewritten body."""
    if choice.model is not None:
        exchange.raw = None
    if choice.prompt_version is not None and PROMPT_VERSION_HEADER not in request.headers:
        exchange.prompt_version = choice.prompt_version
    exchange.headers[FLAG_VARIANT_HEADER] = choice.variants
