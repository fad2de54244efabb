"""The gateway's configuration: tenants, model routes, and one section per stabilisation pattern.

A profile sets every pattern's default: ``naive`` (the "before": all off, retries without
jitter that ignore Retry-After) or ``hardened`` (all on). A section's explicit ``enabled``
wins over the profile, so each pattern can be switched on alone. Everything is validated
when the gateway starts; ``load_config`` reads a YAML or JSON file and the environment.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import pydantic
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    field_validator,
    model_validator,
)
from yarl import URL

from .flags_file import FlagsFileError, parse_flags
from .pricing import Price
from .tracing_config import TracingConfig


Profile = Literal["naive", "hardened"]
PATTERNS = (
    "cache",
    "coalescing",
    "breaker",
    "fallback",
    "deadline",
    "retries",
    "limiter",
    "budgets",
    "structured",
    "split_pools",
    "vector_index",
    "rerank",
    "bounded_fanout",
)
TENANT_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"
PROMPT_VERSION = r"^[A-Za-z0-9._-]{1,64}$"


class Strict(BaseModel):
    """Unknown fields are errors; values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BudgetPlanConfig(Strict):
    """A tenant's token plan per period: warn, downgrade, then refuse."""

    limit_tokens: int = Field(gt=0)
    warn_pct: float = Field(0.8, gt=0)
    hard_pct: float = Field(1.0, gt=0)
    ceiling_pct: float = Field(1.2, gt=0)
    period_s: float = Field(30 * 86400, gt=0)
    downgrade_max_tokens: int = Field(256, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.warn_pct <= self.hard_pct <= self.ceiling_pct:
            raise ValueError("warn_pct <= hard_pct <= ceiling_pct must hold")
        return self


class TenantConfig(Strict):
    """One tenant: its API key and its limits."""

    name: str = Field(pattern=TENANT_NAME)
    api_key: SecretStr = Field(min_length=8)
    cache_salt: SecretStr | None = None
    """Salt of the tenant's cache keys; derived from the API key when absent."""
    concurrency_cap: int | None = Field(None, gt=0)
    """In-flight upstream calls; the limiter's ``tenant_cap`` when absent."""
    budget: BudgetPlanConfig | None = None
    store_raw_prompts: bool = False
    """Consent to store raw prompts (in ``privacy.raw_prompt_dir``); never logged either way."""

    def salt(self) -> str:
        """The cache-key salt: configured, or a hash of the API key (stable across workers)."""
        if self.cache_salt is not None:
            return self.cache_salt.get_secret_value()
        secret = self.api_key.get_secret_value().encode()
        return hashlib.sha256(b"meltproof-cache-salt:" + secret).hexdigest()


class ModelRoute(Strict):
    """A model the gateway serves: its price, fallback and downgrade."""

    name: str = Field(min_length=1)
    kind: Literal["chat", "embedding"] = "chat"
    fallback: str | None = None
    """Tried when this model's breaker is open or its attempts ran out."""
    downgrade_to: str | None = None
    """Served instead once a tenant passes its hard budget."""
    input_per_mtok_usd: float = Field(0.0, ge=0)
    output_per_mtok_usd: float = Field(0.0, ge=0)

    def price(self) -> Price:
        """USD per 1M tokens in and out."""
        return Price(
            input_per_mtok_usd=self.input_per_mtok_usd, output_per_mtok_usd=self.output_per_mtok_usd
        )


DEFAULT_MODELS = (  # list prices, USD per 1M tokens
    ModelRoute(
        name="gpt-4o",
        fallback="gpt-4o-mini",
        downgrade_to="gpt-4o-mini",
        input_per_mtok_usd=2.50,
        output_per_mtok_usd=10.00,
    ),
    ModelRoute(
        name="gpt-4o-mini",
        fallback="local-llm",
        downgrade_to="local-llm",
        input_per_mtok_usd=0.15,
        output_per_mtok_usd=0.60,
    ),
    ModelRoute(name="local-llm"),
    ModelRoute(name="text-embedding-3-small", kind="embedding", input_per_mtok_usd=0.02),
    ModelRoute(name="text-embedding-3-large", kind="embedding", input_per_mtok_usd=0.13),
)


class Section(Strict):
    """A pattern's settings; ``enabled`` comes from the profile unless given."""

    enabled: bool


class CacheConfig(Section):
    ttl_s: float = Field(120.0, ge=1, le=86400)
    opt_in_header: str = "x-meltproof-cache"
    """A request with this header set to ``1`` is cached even when not deterministic."""


class CoalescingConfig(Section):
    lock_ttl_s: float = Field(3.0, gt=0)
    """How long a crashed leader can strand followers in other workers."""


class BreakerConfig(Section):
    window_s: float = Field(10.0, gt=0)
    min_calls: int = Field(20, gt=0)
    failure_rate: float = Field(0.5, gt=0, le=1)
    open_s: float = Field(5.0, gt=0)
    half_open_probes: int = Field(3, gt=0)


class FallbackConfig(Section):
    banner: str = (
        "The assistant is busy right now; this is a shortened answer. Please try again shortly."
    )


class DeadlineConfig(Section):
    default_s: float = Field(1.5, gt=0)
    """Until the answer starts (the whole body, or a stream's first event)."""
    header: str = "x-meltproof-deadline-ms"
    """Lets a caller ask for a different deadline per request."""
    stream_idle_s: float = Field(5.0, gt=0)


class RetriesConfig(Section):
    """On: full jitter, Retry-After and a retry budget. Off: the naive fixed-delay retries."""

    max_attempts: int = Field(3, ge=1)
    base_s: float = Field(0.05, gt=0)
    cap_s: float = Field(1.0, gt=0)
    budget_ratio: float = Field(0.1, ge=0)
    budget_min_per_s: float = Field(1.0, ge=0)
    budget_window_s: float = Field(10.0, gt=0)
    longest_wait_s: float = Field(30.0, gt=0)
    """A longer wait (a long Retry-After) means no retry, with or without a deadline."""


class LimiterConfig(Section):
    tenant_cap: int = Field(32, gt=0)
    global_cap: int | None = Field(256, gt=0)
    lease_s: float = Field(30.0, gt=0)
    wait_s: float = Field(0.0, ge=0)
    """Over the cap: wait this long for a slot before answering 429."""
    retry_after_s: float = Field(1.0, gt=0)
    instances: int = Field(1, gt=0)
    """How many gateway instances (hosts, each with its workers) share this Redis: each holds
    at most ``ceil(cap / instances)`` of every cap, also while Redis does not answer."""


class BudgetsConfig(Section):
    default_max_output_tokens: int = Field(512, gt=0)
    """The output cap (and reservation) of a budgeted request that sets none."""
    reservation_ttl_s: float = Field(900.0, gt=0)
    """A reservation not settled by then (its worker died) stops counting."""


class StructuredConfig(Section):
    repair_attempts: int = Field(1, ge=0)


class PoolConfig(Strict):
    """One PostgreSQL connection pool."""

    min_size: int = Field(1, ge=0)
    max_size: int = Field(10, gt=0)
    statement_timeout_ms: int = Field(1000, gt=0)
    timeout_s: float = Field(0.5, gt=0)
    """Longest wait for a free connection."""

    @model_validator(mode="after")
    def _sizes(self) -> Self:
        if self.min_size > self.max_size:
            raise ValueError("min_size must not exceed max_size")
        return self


class SplitPoolsConfig(Section):
    """On: OLTP reads and vector searches have a pool each. Off: one pool for both."""

    oltp: PoolConfig = PoolConfig(max_size=8, statement_timeout_ms=500)
    vector: PoolConfig = PoolConfig(max_size=4, statement_timeout_ms=1000)


class VectorIndexConfig(Section):
    """On: HNSW search of the top ``k`` with iterative scans. Off: an exact scan of the top
    ``naive_k`` (the case study's top-200)."""

    k: int = Field(40, gt=0, le=1000)
    ef_search: int = Field(100, gt=0, le=1000)
    naive_k: int = Field(200, gt=0, le=1000)


class RerankConfig(Section):
    """On: MMR over the retrieved chunks picks a diverse context. Off: the nearest ones."""

    lambda_: float = Field(0.5, ge=0, le=1, alias="lambda")
    context_chunks: int = Field(8, gt=0, le=100)


class BoundedFanoutConfig(Section):
    """On: a copilot request runs at most ``max_parallel`` LLM calls at once. Off: all at once."""

    max_parallel: int = Field(2, gt=0)


class RetrievalConfig(Strict):
    """Where the copilot's data lives."""

    database_url: str | None = None
    dimensions: int = Field(1536, gt=0, le=16000)
    migrate_at_start: bool = True


class CopilotConfig(Strict):
    """The copilot's LLM calls."""

    model: str = "gpt-4o"
    max_tokens: int = Field(64, gt=0)
    prompt_version: str = Field("copilot-v1", pattern=PROMPT_VERSION)
    banner: str = (
        "Some of this answer could not use your pipeline's data right now; it may be incomplete."
    )


class PrivacyConfig(Strict):
    raw_prompt_dir: Path | None = None


class FlagsConfig(Strict):
    """Feature flags from a file in flagd's format, re-read when it changes (see README)."""

    file: Path
    poll_s: float = Field(1.0, gt=0, le=3600)
    """How often, at most, the file's modification time is looked at."""
    model_flag: str | None = Field("model", min_length=1)
    """The flag whose string value is the chat model to serve (None: no such flag)."""
    prompt_version_flag: str | None = Field("prompt-version", min_length=1)
    """The flag whose string value is the prompt version of a request that names none."""


class GatewayConfig(Strict):
    """Everything the gateway needs, validated at start."""

    provider_url: HttpUrl = Field(
        description="Base URL of the OpenAI-compatible provider, with or without /v1."
    )
    provider_api_key: SecretStr = Field(SecretStr("sk-meltproof"), description="Sent upstream.")
    profile: Profile = "hardened"
    redis_url: str | None = None
    workers: int = Field(1, ge=1)
    upstream_timeout_s: float = Field(30.0, gt=0, description="Longest single upstream call.")
    max_body_bytes: int = Field(1 << 20, gt=0, description="Largest request body accepted.")
    redis_timeout_s: float = Field(0.05, gt=0)
    body_timeout_s: float = Field(
        15.0, gt=0, description="Longest wait for a request's body; then a JSON 408 and close."
    )
    idle_timeout_s: float = Field(
        30.0,
        gt=0,
        description="A connection that completes no request's headers this long after it "
        "opened or after its last response is closed (idle keep-alive and slow headers).",
    )
    metrics_token: SecretStr | None = Field(
        None, min_length=16, description="Bearer token of /metrics; without one it is refused."
    )
    prompt_versions: tuple[Annotated[str, Field(pattern=PROMPT_VERSION)], ...] = Field(
        (),
        description="x-prompt-version values with a metrics label of their own (besides "
        "'default' and the copilot's); the others are counted as 'other'.",
    )
    tenants: tuple[TenantConfig, ...] = ()
    models: tuple[ModelRoute, ...] = DEFAULT_MODELS
    cache: CacheConfig
    coalescing: CoalescingConfig
    breaker: BreakerConfig
    fallback: FallbackConfig
    deadline: DeadlineConfig
    retries: RetriesConfig
    limiter: LimiterConfig
    budgets: BudgetsConfig
    structured: StructuredConfig
    split_pools: SplitPoolsConfig
    vector_index: VectorIndexConfig
    rerank: RerankConfig
    bounded_fanout: BoundedFanoutConfig
    retrieval: RetrievalConfig = RetrievalConfig()
    copilot: CopilotConfig = CopilotConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    tracing: TracingConfig = TracingConfig()
    flags: FlagsConfig | None = None
    """None: no flags, and no cost on the request path."""

    @model_validator(mode="before")
    @classmethod
    def _profile_defaults(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        filled = dict(data)
        hardened = filled.get("profile", "hardened") == "hardened"
        for pattern in PATTERNS:
            section = filled.get(pattern)
            if section is None or isinstance(section, Mapping):
                filled[pattern] = {"enabled": hardened, **(section or {})}
        return filled

    @field_validator("provider_url", mode="after")
    @classmethod
    def _api_root(cls, url: HttpUrl) -> HttpUrl:
        """``https://host/v1`` and ``https://host/`` both mean the API at ``https://host/v1/``."""
        given = URL(str(url))
        root = given.path.rstrip("/").removesuffix("/v1")
        return HttpUrl(str(given.with_path(root + "/")))

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [route.name for route in self.models]
        if len(set(names)) != len(names):
            raise ValueError("models: names must be unique")
        for route in self.models:
            for link in (route.fallback, route.downgrade_to):
                if link is not None and link not in names:
                    raise ValueError(f"models: {route.name} refers to unknown model {link!r}")
        for start in names:
            self.fallback_chain(start)
        for field, values in (
            ("name", [t.name for t in self.tenants]),
            ("api_key", [t.api_key.get_secret_value() for t in self.tenants]),
        ):
            if len(set(values)) != len(values):
                raise ValueError(f"tenants: each {field} must be unique")
        if self.metrics_token is not None:
            token = self.metrics_token.get_secret_value()
            if any(t.api_key.get_secret_value() == token for t in self.tenants):
                raise ValueError("metrics_token must differ from every tenant's api_key")
        return self

    def route(self, model: str) -> ModelRoute | None:
        """The configured route of ``model``, if any."""
        return self._routes.get(model)

    @functools.cached_property
    def _routes(self) -> dict[str, ModelRoute]:
        """The routes by model name (unique: checked at validation)."""
        return {route.name: route for route in self.models}

    def fallback_chain(self, model: str) -> list[str]:
        """``model`` then its fallbacks in order; a cycle is a configuration error."""
        chain = [model]
        route = self.route(model)
        while route is not None and route.fallback is not None:
            if route.fallback in chain:
                raise ValueError(f"models: the fallback chain of {model} loops")
            chain.append(route.fallback)
            route = self.route(route.fallback)
        return chain


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""


ENV_PREFIX = "MELTPROOF_GATEWAY_"
_ENV_FIELDS = (
    "profile",
    "redis_url",
    "provider_url",
    "provider_api_key",
    "workers",
    "metrics_token",
)
DATABASE_URL_ENV = f"{ENV_PREFIX}DATABASE_URL"


def load_config(
    path: Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    enable: tuple[str, ...] = (),
    disable: tuple[str, ...] = (),
    environ: Mapping[str, str] = os.environ,
) -> GatewayConfig:
    """The config from ``path`` (YAML or JSON; ``MELTPROOF_GATEWAY_CONFIG`` when None), then
    ``MELTPROOF_GATEWAY_<FIELD>`` variables, then ``overrides``, then pattern switches.
    ``database_url`` (an override or ``MELTPROOF_GATEWAY_DATABASE_URL``) goes to ``retrieval``."""
    source = path or (
        Path(environ[f"{ENV_PREFIX}CONFIG"]) if environ.get(f"{ENV_PREFIX}CONFIG") else None
    )
    data: dict[str, Any] = _read_file(source) if source else {}
    for field in _ENV_FIELDS:
        value = environ.get(ENV_PREFIX + field.upper())
        if value:
            data[field] = value
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    database_url = given.pop("database_url", None) or environ.get(DATABASE_URL_ENV)
    if database_url:
        data["retrieval"] = {**(data.get("retrieval") or {}), "database_url": database_url}
    data.update(given)
    for names, state in ((enable, True), (disable, False)):
        for name in names:
            if name not in PATTERNS:
                raise ConfigError(f"unknown pattern {name!r}; known: {', '.join(PATTERNS)}")
            data[name] = {**(data.get(name) or {}), "enabled": state}
    try:
        config = GatewayConfig.model_validate(data)
    except pydantic.ValidationError as exc:
        where = f"gateway config {source}" if source else "gateway config"
        raise ConfigError(f"{where}:\n{_describe(exc)}") from None
    if config.flags is not None:
        _check_flags_file(config.flags.file)
    return config


def _check_flags_file(path: Path) -> None:
    """A flags file that cannot be read or used stops the gateway at start."""
    try:
        parse_flags(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read flags.file {path}: {exc.strerror}") from None
    except FlagsFileError as exc:
        raise ConfigError(f"flags.file {path}: {exc}") from None


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read gateway config {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"gateway config {path} is not valid YAML/JSON: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"gateway config {path}: the top level must be a mapping")
    return data


def _describe(exc: pydantic.ValidationError) -> str:
    """One line per problem: the dotted field path and what is wrong."""
    lines = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        lines.append(f"  {where}: {error['msg']}")
    return "\n".join(lines)
