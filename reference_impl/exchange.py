"""One client request on its way through the patterns, and the response it ends as.

``start_exchange`` checks what the headers and the model ask for (a bad value is a 400
naming it); ``finished`` records the request's metrics and access-log line, which carries
a salted hash of the prompt, never the prompt.

An access-log line (logger ``reference_impl.access``, on with ``--access-log``) is one JSON
object: ``request_log_fields`` plus what a replay needs to rebuild the workload
(``benchmarks.replay_access_log``): ``ts``, the arrival as Unix seconds to the microsecond;
``endpoint`` (the route), ``stream``, ``prompt_version``, ``max_tokens`` and ``temperature`` as
forwarded (null when absent); ``prompt_tokens``, the provider's count from the answer's usage or,
without one, the gateway's upper estimate; ``output_tokens`` from the usage (null when unknown);
``internal``, true for a call the gateway made itself (the copilot's); and ``flags``, the
flag variants served (``x-meltproof-flag-variant``: ``model=canary``), null without.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .answer import Answer
from .budget import Reservation
from .canonical import prompt_fingerprint
from .config import PROMPT_VERSION as PROMPT_VERSION_PATTERN
from .config import GatewayConfig, TenantConfig
from .errors import InvalidRequest
from .flags import FLAG_VARIANT_HEADER
from .keys import GATEWAY, TENANT
from .privacy import request_log_fields
from .retry import Deadline
from .singleflight import Ticket
from .state import Gateway


access_log = logging.getLogger("reference_impl.access")
PROMPT_VERSION_HEADER = "x-prompt-version"
PROMPT_VERSION = re.compile(PROMPT_VERSION_PATTERN)
DEFAULT_PROMPT_VERSION = "default"
"""The version of a request without the header."""
LONGEST_DEADLINE_MS = 600_000


@dataclass(frozen=True, slots=True)
class Route:
    """What differs between endpoints."""

    name: str
    path: str
    kind: str
    """The kind of model it serves (``chat`` or ``embedding``)."""
    sampled: bool
    """Answers are sampled: cached and coalesced only when the request is deterministic."""
    can_degrade: bool
    """A degraded answer is useful; otherwise a 503 when the provider cannot answer."""


@dataclass(slots=True)
class Exchange:
    """One client request on its way through the patterns."""

    gateway: Gateway
    route: Route
    tenant: TenantConfig
    body: dict[str, Any]
    raw: bytes | None
    """The client's body as sent, forwarded as is until ``rewrite_body`` changes the body."""
    prompt_tokens: int
    max_output_tokens: int | None
    """What the client asked for; None lets the model decide."""
    deadline_s: float | None
    prompt_version: str
    idempotency_key: str
    """The client's ``Idempotency-Key``; empty until ``upstream_key`` makes one."""
    stream: bool = False
    opt_in_cache: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    cache: str = ""
    ticket: Ticket | None = None
    """The coalescing flight of a cacheable request; its role is the cache status."""
    reservation: Reservation | None = None
    producing: bool = False
    """This exchange calls upstream itself, and settles its reservation when done."""
    status: int | None = None
    """The outcome when it differs from the status already sent (a stream cut midway)."""
    answer: Answer | None = None
    """The whole answer sent, kept for the access-log line's token counts."""
    internal: bool = False
    """A call the gateway makes itself, not a client's request."""
    started: float = field(default_factory=time.perf_counter)

    @property
    def model(self) -> str:
        """The model asked for (after a budget downgrade)."""
        return str(self.body["model"])

    def rewrite_body(self, *, removed: tuple[str, ...] = (), **fields: Any) -> None:
        """Set ``fields`` of the body and drop ``removed``: from now on the body is encoded
        again for the provider, not forwarded as the client sent it."""
        for name in removed:
            self.body.pop(name, None)
        self.body.update(fields)
        self.raw = None

    def deadline(self) -> Deadline:
        """What is left of this request's deadline, counted from its arrival."""
        if self.deadline_s is None:
            return Deadline(None)
        return Deadline(max(0.0, self.deadline_s - (time.perf_counter() - self.started)))

    def upstream_key(self) -> str:
        """The idempotency key of this exchange's upstream calls: the client's, or one made
        on first use (a request answered without a call needs none)."""
        if not self.idempotency_key:
            self.idempotency_key = secrets.token_hex(16)
        return self.idempotency_key

    def cache_status(self) -> str:
        """``hit``, ``miss``, ``coalesced``, or empty for a request that is not cacheable."""
        return self.ticket.role if self.ticket is not None else self.cache

    def fingerprint(self) -> str:
        """The salted hash of the prompt that logs carry instead of the prompt."""
        messages = self.body.get("messages", self.body.get("input"))
        return prompt_fingerprint(messages, salt=self.gateway.salts[self.tenant.name])


def start_exchange(
    request: web.Request,
    route: Route,
    body: dict[str, Any],
    *,
    raw: bytes | None,
    prompt_tokens: int,
    max_output_tokens: int | None,
    stream: bool = False,
) -> Exchange:
    """Read the per-request options; an unknown model or a bad header is a 400."""
    gateway = request.app[GATEWAY]
    config = gateway.config
    served = config.route(str(body["model"]))
    if served is None or served.kind != route.kind:
        names = ", ".join(r.name for r in config.models if r.kind == route.kind)
        raise InvalidRequest(
            f"model {body['model']!r} is not served here; {route.kind} models: {names}",
            param="model",
        )
    version = request.headers.get(PROMPT_VERSION_HEADER, DEFAULT_PROMPT_VERSION)
    if not PROMPT_VERSION.match(version):
        raise InvalidRequest(
            f"{PROMPT_VERSION_HEADER} must be 1-64 letters, digits, '.', '_' or '-'"
        )
    return Exchange(
        gateway=gateway,
        route=route,
        tenant=request[TENANT],
        body=body,
        raw=raw,
        prompt_tokens=prompt_tokens,
        max_output_tokens=max_output_tokens,
        deadline_s=_deadline_s(request, gateway),
        prompt_version=version,
        idempotency_key=request.headers.get("Idempotency-Key", ""),
        stream=stream,
        opt_in_cache=request.headers.get(config.cache.opt_in_header) == "1",
    )


def labelled_prompt_versions(config: GatewayConfig) -> tuple[str, ...]:
    """The prompt versions with a metrics label of their own: the declared ones, the
    default and the copilot's. Any version may be sent (it keys the cache); the others are
    counted together, so clients cannot add labels."""
    return (DEFAULT_PROMPT_VERSION, config.copilot.prompt_version, *config.prompt_versions)


def internal_exchange(
    gateway: Gateway,
    tenant: TenantConfig,
    route: Route,
    body: dict[str, Any],
    *,
    prompt_version: str,
    prompt_tokens: int,
    max_output_tokens: int | None,
) -> Exchange:
    """An exchange the gateway makes on a tenant's behalf (a copilot's LLM call): the same
    patterns as a client's request, on the configured deadline."""
    deadline = gateway.config.deadline
    return Exchange(
        gateway=gateway,
        route=route,
        tenant=tenant,
        body=body,
        raw=None,
        prompt_tokens=prompt_tokens,
        max_output_tokens=max_output_tokens,
        deadline_s=deadline.default_s if deadline.enabled else None,
        prompt_version=prompt_version,
        idempotency_key="",
        internal=True,
    )


def _deadline_s(request: web.Request, gateway: Gateway) -> float | None:
    config = gateway.config.deadline
    if not config.enabled:
        return None
    asked = request.headers.get(config.header)
    if asked is None:
        return config.default_s
    try:
        millis = int(asked)
    except ValueError:
        millis = 0
    if not 1 <= millis <= LONGEST_DEADLINE_MS:
        raise InvalidRequest(
            f"{config.header} must be an integer of milliseconds, 1..{LONGEST_DEADLINE_MS}"
        )
    return millis / 1000


def answer_headers(exchange: Exchange, answer: Answer) -> dict[str, str]:
    """Headers of the client's response: the provider's, the cache's, the budget's.

    A whole answer (not the empty one a live stream starts with) stays on the exchange for
    its access-log line."""
    if answer.body:
        exchange.answer = answer
    headers = {**answer.headers, **exchange.headers}
    cache = exchange.cache_status()
    if cache:
        headers["x-cache"] = cache
    if answer.degraded:
        headers["x-degraded"] = "true"
    return headers


def json_answer(exchange: Exchange, answer: Answer) -> web.Response:
    """A whole answer as the JSON response."""
    return web.Response(
        status=answer.status,
        body=answer.body,
        content_type="application/json",
        headers=answer_headers(exchange, answer),
    )


def finished(exchange: Exchange, status: int) -> None:
    """Metrics and the access-log line (salted prompt hash, never the prompt)."""
    seconds = time.perf_counter() - exchange.started
    cache = exchange.cache_status()
    metrics = exchange.gateway.metrics
    if cache:
        metrics.cache(cache)
    metrics.request_finished(
        route=exchange.route.name,
        tenant=exchange.tenant.name,
        status=status,
        cache=cache or "none",
        seconds=seconds,
    )
    if access_log.isEnabledFor(logging.INFO):
        access_log.info(json.dumps(_access_line(exchange, status, cache or "none", seconds)))


def _access_line(exchange: Exchange, status: int, cache: str, seconds: float) -> dict[str, Any]:
    """The access-log line (see the module docstring) of an exchange that took ``seconds``."""
    usage = _usage(exchange.answer)
    temperature = exchange.body.get("temperature")
    chat = exchange.route.kind == "chat"
    return {
        "ts": round(time.time() - seconds, 6),
        **request_log_fields(
            tenant=exchange.tenant.name,
            fingerprint=exchange.fingerprint(),
            model=exchange.model,
            status=status,
            cache=cache,
            ms=seconds * 1000,
        ),
        "endpoint": exchange.route.name,
        "stream": exchange.stream,
        "prompt_version": exchange.prompt_version,
        "max_tokens": exchange.max_output_tokens if chat else None,
        "temperature": temperature if _is_number(temperature) else None,
        "prompt_tokens": usage.get("prompt_tokens", exchange.prompt_tokens),
        "output_tokens": usage.get("completion_tokens"),
        "internal": exchange.internal,
        "flags": exchange.headers.get(FLAG_VARIANT_HEADER),
    }


_USAGE_FIELD = re.compile(rb'"(prompt_tokens|completion_tokens)"\s*:\s*(\d+)')


def _usage(answer: Answer | None) -> dict[str, int]:
    """The token counts of an answer's ``usage`` (found from its end: a body may be long)."""
    if answer is None:
        return {}
    at = answer.body.rfind(b'"usage"')
    if at < 0:
        return {}
    return {name.decode(): int(value) for name, value in _USAGE_FIELD.findall(answer.body, at)}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
