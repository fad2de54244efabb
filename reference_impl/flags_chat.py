"""The flags' two steps on the chat path: before the exchange starts, and after.

``flag_chat_request`` gives the flags' choice for a request; a flagged model replaces the
body's before the exchange starts from it (so the usual check of the model applies to it,
and the client's bytes are not forwarded). ``settle_flags`` then sets the flagged prompt
version of a request that named none, and adds the variant header. Without flags,
``flag_chat_request`` returns None after one attribute test.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from .exchange import PROMPT_VERSION_HEADER, Exchange
from .flags import FLAG_VARIANT_HEADER, FlagChoice
from .keys import GATEWAY, TENANT


def flag_chat_request(request: web.Request, body: Mapping[str, Any]) -> FlagChoice | None:
    """The flags' choice for a valid chat ``body``; None without flags or without a choice."""
    flags = request.app[GATEWAY].flags
    if flags is None:
        return None
    return flags.choose(
        tenant=request[TENANT].name, model=str(body["model"]), user=body.get("user")
    )


def settle_flags(request: web.Request, exchange: Exchange, choice: FlagChoice) -> None:
    """Apply the rest of ``choice`` to the exchange started from the flagged body."""
    if choice.prompt_version is not None and PROMPT_VERSION_HEADER not in request.headers:
        exchange.prompt_version = choice.prompt_version
    exchange.headers[FLAG_VARIANT_HEADER] = choice.variants
