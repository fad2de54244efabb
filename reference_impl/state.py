"""The gateway's collaborators, built from the config when the app starts and closed with it.

A pattern that is switched off is ``None`` here (or, for coalescing, a local-only flight
table with unique keys), so the request path reads as "if the pattern is on, use it".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import psycopg

from .background import Background
from .breaker import BreakerPolicy, Breakers
from .budget import TokenBudgets
from .cache import ResponseCache
from .canonical import KeyMemo
from .config import GatewayConfig, TenantConfig
from .flags import GatewayFlags, open_flags
from .limiter import ConcurrencyLimiter, table_columns
from .metrics import GatewayMetrics
from .notify import Notifier
from .privacy import PromptStore
from .redis_link import RedisLink, connect
from .redis_wire import RedisWire
from .resilience import Resilience
from .retrieval import Pools, PoolSettings, migrate
from .retry import Backoff, RetryBudget, RetryPolicy
from .singleflight import SingleFlight
from .slot_table import SlotTable
from .tracing import NO_TRACING, Tracing
from .upstream import open_upstream_session
from .validation import ChatBody, ParsedBodies


log = logging.getLogger(__name__)
STARTUP_REDIS_TIMEOUT_S = 2.0
BACKGROUND_DRAIN_S = 2.0
STARTUP_DATABASE_TIMEOUT_S = 10.0
MIGRATION_RETRY_S = 5.0


@dataclass(frozen=True, eq=False)
class Gateway:
    """Everything a request handler needs."""

    config: GatewayConfig
    tenants_by_key: dict[str, TenantConfig]
    salts: dict[str, str]
    """Tenant name -> the salt of its cache keys and prompt fingerprints."""
    session: aiohttp.ClientSession
    metrics: GatewayMetrics
    link: RedisLink
    notifier: Notifier | None
    cache: ResponseCache | None
    flights: SingleFlight
    """Coalesces identical deterministic requests, across workers through Redis."""
    resilience: Resilience
    limiter: ConcurrencyLimiter | None
    budgets: TokenBudgets | None
    prompts: PromptStore
    background: Background
    pools: Pools | None
    """The copilot's PostgreSQL pools; None without a database."""
    tracing: Tracing = NO_TRACING
    """Spans of the request path (``NO_TRACING``, all no-ops, when tracing is off)."""
    flags: GatewayFlags | None = None
    """The feature flags of the chat path; None without a ``flags`` section."""
    cache_keys: KeyMemo = field(default_factory=KeyMemo)
    """The cache keys of recent request bodies."""
    chat_bodies: ParsedBodies[ChatBody] = field(default_factory=lambda: ParsedBodies(ChatBody))
    """Recent chat request bodies, parsed and checked."""


def retry_policy(config: GatewayConfig) -> RetryPolicy:
    """Hardened: full jitter and Retry-After. Naive: fixed exponential delays, header ignored."""
    retries = config.retries
    backoff = Backoff(base_s=retries.base_s, cap_s=retries.cap_s, jitter=retries.enabled)
    return RetryPolicy(
        max_attempts=retries.max_attempts,
        backoff=backoff,
        honour_retry_after=retries.enabled,
        longest_wait_s=retries.longest_wait_s,
    )


def build_resilience(
    config: GatewayConfig,
    session: aiohttp.ClientSession,
    metrics: GatewayMetrics,
    tracing: Tracing = NO_TRACING,
) -> Resilience:
    """The upstream call path with the breaker, retry and fallback patterns the config asks for."""
    breakers = None
    if config.breaker.enabled:
        b = config.breaker
        policy = BreakerPolicy(
            window_s=b.window_s,
            min_calls=b.min_calls,
            failure_rate=b.failure_rate,
            open_s=b.open_s,
            half_open_probes=b.half_open_probes,
        )
        breakers = Breakers(policy, on_transition=metrics.breaker_transition)
    budget = None
    if config.retries.enabled:
        r = config.retries
        budget = RetryBudget(
            ratio=r.budget_ratio, min_per_s=r.budget_min_per_s, window_s=r.budget_window_s
        )
    chains = {
        route.name: config.fallback_chain(route.name) if config.fallback.enabled else [route.name]
        for route in config.models
    }
    return Resilience(
        session,
        metrics=metrics,
        retry_policy=retry_policy(config),
        chains=chains,
        breakers=breakers,
        retry_budget=budget,
        attempt_cap_s=config.upstream_timeout_s,
        stream_idle_s=config.deadline.stream_idle_s
        if config.deadline.enabled
        else config.upstream_timeout_s,
        rng=random.Random(),  # noqa: S311 - jitter, not secrets
        tracing=tracing,
    )


def _needs_redis(config: GatewayConfig) -> bool:
    return any(
        getattr(config, pattern).enabled
        for pattern in ("cache", "coalescing", "limiter", "budgets")
    )


async def migrate_database(config: GatewayConfig) -> bool:
    """Migrate the schema when asked to; False when the database did not answer (the copilot
    answers degraded meanwhile). A database built for other vectors is a ``MigrationError``."""
    retrieval = config.retrieval
    if retrieval.database_url is None or not retrieval.migrate_at_start:
        return True
    try:
        async with asyncio.timeout(STARTUP_DATABASE_TIMEOUT_S):
            applied = await migrate(retrieval.database_url, dimensions=retrieval.dimensions)
    except (TimeoutError, psycopg.Error, OSError) as exc:
        log.warning("database not migrated (%r); the copilot answers degraded", exc)
        return False
    if applied:
        log.info("database migrated: %s", ", ".join(applied))
    return True


async def migrate_until_done(config: GatewayConfig) -> None:
    """Try the migration again every few seconds until the database answers."""
    while True:
        await asyncio.sleep(MIGRATION_RETRY_S)
        if await migrate_database(config):
            return


async def open_pools(config: GatewayConfig) -> Pools | None:
    """Open the pools without waiting for the database; None without a database."""
    retrieval = config.retrieval
    if retrieval.database_url is None:
        return None
    pools = config.split_pools
    settings = {
        name: PoolSettings(
            min_size=pool.min_size,
            max_size=pool.max_size,
            statement_timeout_ms=pool.statement_timeout_ms,
            timeout_s=pool.timeout_s,
        )
        for name, pool in (("oltp", pools.oltp), ("vector", pools.vector))
    }
    return await Pools.open(
        retrieval.database_url,
        oltp=settings["oltp"],
        vector=settings["vector"],
        shared=not pools.enabled,
    )


@contextlib.asynccontextmanager
async def open_gateway(
    config: GatewayConfig, metrics: GatewayMetrics, tracing: Tracing = NO_TRACING
) -> AsyncIterator[Gateway]:
    """Build the collaborators, yield them, and close them in reverse order: each is on the
    exit stack as soon as it is open, so a failure halfway closes what came before."""
    migrated = await migrate_database(config)  # first: a refused one leaves nothing open
    async with contextlib.AsyncExitStack() as opened:
        pools = await open_pools(config)
        if pools is not None:
            opened.push_async_callback(pools.close)
        link, notifier = _open_redis(config, opened)
        session = open_upstream_session(config)
        opened.push_async_callback(session.close)
        consenting = frozenset(t.name for t in config.tenants if t.store_raw_prompts)
        prompts = PromptStore(config.privacy.raw_prompt_dir, consenting=consenting)
        opened.push_async_callback(prompts.stop)
        limiter = _limiter(config, link)
        if limiter is not None:
            opened.push_async_callback(limiter.close)
        gateway = Gateway(
            config=config,
            tenants_by_key={t.api_key.get_secret_value(): t for t in config.tenants},
            salts={t.name: t.salt() for t in config.tenants},
            session=session,
            metrics=metrics,
            link=link,
            notifier=notifier,
            cache=ResponseCache(link, ttl_s=config.cache.ttl_s) if config.cache.enabled else None,
            flights=SingleFlight(link, notifier, lock_ttl_s=config.coalescing.lock_ttl_s),
            resilience=build_resilience(config, session, metrics, tracing),
            limiter=limiter,
            budgets=TokenBudgets(link, reservation_ttl_s=config.budgets.reservation_ttl_s)
            if config.budgets.enabled
            else None,
            prompts=prompts,
            background=Background(),
            pools=pools,
            tracing=tracing,
            flags=open_flags(config),
        )
        opened.push_async_callback(gateway.background.drain, BACKGROUND_DRAIN_S)
        opened.push_async_callback(gateway.flights.close)
        if not migrated:
            gateway.background.run(migrate_until_done(config))
        await link.warm_up(STARTUP_REDIS_TIMEOUT_S)
        if notifier is not None:
            await notifier.start()
        await prompts.start()
        yield gateway


def _open_redis(
    config: GatewayConfig, opened: contextlib.AsyncExitStack
) -> tuple[RedisLink, Notifier | None]:
    """The Redis link (and the coalescing notifier), their closing on ``opened``."""
    client, wire = None, None
    if config.redis_url and _needs_redis(config):
        connect_timeout_s = max(config.redis_timeout_s, 0.2)
        client = connect(config.redis_url, connect_timeout_s=connect_timeout_s)
        opened.push_async_callback(client.aclose)
        wire = RedisWire.for_url(
            config.redis_url,
            connect_timeout_s=connect_timeout_s,
            reply_timeout_s=config.redis_timeout_s,
        )
        if wire is not None:
            opened.push_async_callback(wire.close)
    elif _needs_redis(config):
        log.warning("no redis_url: cache, coalescing, caps and budgets run per worker only")
    link = RedisLink(client, wire=wire, timeout_s=config.redis_timeout_s)
    notifier = Notifier(client) if client is not None and config.coalescing.enabled else None
    if notifier is not None:
        opened.push_async_callback(notifier.stop)
    return link, notifier


def _limiter(config: GatewayConfig, link: RedisLink) -> ConcurrencyLimiter | None:
    """The concurrency limiter the config asks for, or None."""
    if not config.limiter.enabled:
        return None
    lim = config.limiter
    return ConcurrencyLimiter(
        link,
        SlotTable.for_this_process(table_columns(t.name for t in config.tenants)),
        global_cap=lim.global_cap,
        lease_s=lim.lease_s,
        wait_s=lim.wait_s,
        retry_after_s=lim.retry_after_s,
        instances=lim.instances,
    )
