"""Feature flags on the chat path: a tenant's model and prompt version, through OpenFeature.

With a ``flags`` section in the config, each chat request is evaluated against two flags of
the file (``flags_provider``): ``model_flag``, whose value is the model served instead of the
one asked for, and ``prompt_version_flag``, the prompt version of a request that sends no
``x-prompt-version``. The evaluation context has ``tenant``, ``model`` (the one asked for)
and a ``targetingKey`` that buckets percentage rollouts: the body's ``user`` when it names
one (an end user stays in one cohort), otherwise a random key per request.

The variants served are in the response header ``x-meltproof-flag-variant``
(``model=canary`` or ``model=canary,prompt-version=v2``: flag, variant), so a client can tell
the cohorts apart. A flag that resolves to no variant (disabled, absent, no default) changes
nothing; a model flag naming a model the gateway does not serve as a chat model, or a prompt
version that is not a valid one, is ignored and logged once.

Without a ``flags`` section nothing here runs: the chat path tests one attribute.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from openfeature import api
from openfeature.evaluation_context import EvaluationContext

from .config import PROMPT_VERSION, FlagsConfig, GatewayConfig
from .flags_provider import FlagdFileProvider, FlagsFile


log = logging.getLogger(__name__)
FLAG_VARIANT_HEADER = "x-meltproof-flag-variant"
DOMAIN_PREFIX = "meltproof-gateway-"
_VERSION = re.compile(PROMPT_VERSION)


@dataclass(frozen=True, slots=True)
class FlagChoice:
    """What the flags decided for one request."""

    model: str | None
    """The model to serve, when a flag chose one."""
    prompt_version: str | None
    """The prompt version of a request that names none, when a flag chose one."""
    variants: str
    """The header value: ``flag=variant`` pairs, comma-separated."""


class GatewayFlags:
    """The flags of one gateway config, evaluated through an OpenFeature client."""

    def __init__(self, section: FlagsConfig, *, chat_models: frozenset[str]) -> None:
        self._section = section
        self._chat_models = chat_models
        self.provider = FlagdFileProvider(FlagsFile(section.file, poll_s=section.poll_s))
        domain = f"{DOMAIN_PREFIX}{id(self)}"
        api.set_provider_and_wait(self.provider, domain=domain)
        self._client = api.get_client(domain=domain)
        self._ignored: set[tuple[str, str]] = set()

    def choose(self, *, tenant: str, model: str, user: object = None) -> FlagChoice | None:
        """The flags' choice for a chat request of ``tenant`` asking for ``model``; None when
        no flag applies."""
        flags = self.provider.source.current()
        model_flag, version_flag = self._section.model_flag, self._section.prompt_version_flag
        wanted = [key for key in (model_flag, version_flag) if key is not None and key in flags]
        if not wanted:
            return None
        key = user if isinstance(user, str) and user else f"{random.getrandbits(64):016x}"
        context = EvaluationContext(key, {"tenant": tenant, "model": model})
        served, version, variants = None, None, []
        for flag_key in wanted:
            value, variant = self._variant(flag_key, context)
            if variant is None:
                continue
            if flag_key == model_flag and self._usable(flag_key, value, self._is_chat_model):
                served = value
            elif flag_key == version_flag and self._usable(flag_key, value, _VERSION.fullmatch):
                version = value
            else:
                continue
            variants.append(f"{flag_key}={variant}")
        if not variants:
            return None
        return FlagChoice(model=served, prompt_version=version, variants=",".join(variants))

    def _variant(self, flag_key: str, context: EvaluationContext) -> tuple[str, str | None]:
        details = self._client.get_string_details(flag_key, "", context)
        return details.value, details.variant if details.error_code is None else None

    def _is_chat_model(self, value: str) -> bool:
        return value in self._chat_models

    def _usable(self, flag_key: str, value: str, check: Callable[[str], object]) -> bool:
        if check(value):
            return True
        if (flag_key, value) not in self._ignored:
            self._ignored.add((flag_key, value))
            log.warning("flag %s: value %r is not usable here; ignored", flag_key, value)
        return False


def open_flags(config: GatewayConfig) -> GatewayFlags | None:
    """The flags of ``config``; None without a ``flags`` section."""
    if config.flags is None:
        return None
    chat = frozenset(route.name for route in config.models if route.kind == "chat")
    return GatewayFlags(config.flags, chat_models=chat)
