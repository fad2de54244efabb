"""Checks on what reached the provider, from its ground-truth counters.

The simulated provider counts every request it received and every token it produced (in
total, per tenant, per model and per endpoint kind); the run of a gateway not wired to it has no
such counters, and these checks are then ``not_applicable``. Per-request figures divide by the
client requests that were actually sent, whatever their endpoint.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from pydantic import Field

from scenarios.stored_run import StoredRun

from .base import Check, NotApplicableError, UndecidableError, Verdict, at_most
from .wording import number


def provider_stats(run: StoredRun) -> Mapping[str, Any]:
    """The provider's counters; ``NotApplicableError`` when the run has none."""
    if run.provider is None:
        raise NotApplicableError(
            "the run has no provider counters: the target's upstream is not meltproof's "
            "simulated provider"
        )
    return run.provider


def tokens_of(counters: Mapping[str, Any]) -> int:
    """Prompt plus completion tokens of one counter group."""
    return int(counters.get("prompt_tokens", 0)) + int(counters.get("completion_tokens", 0))


def sent_requests(run: StoredRun) -> int:
    """How many client requests were actually sent; ``UndecidableError`` if none."""
    sent = int((~np.isnan(run.table.ops["sent_s"])).sum())
    if not sent:
        raise UndecidableError("no client request was sent")
    return sent


class TokensPerRequestCheck(Check):
    """Provider tokens (prompt + completion) per client request are at most ``max``."""

    kind: Literal["tokens_per_request"] = "tokens_per_request"
    max: float = Field(gt=0)

    def verdict(self, run: StoredRun) -> Verdict:
        """Tokens per client request."""
        tokens = tokens_of(provider_stats(run)["total"])
        requests = sent_requests(run)
        return at_most(
            f"provider tokens per client request = {tokens:,} / {requests:,}",
            tokens / requests,
            self.max,
            "tokens",
        )


class CostPerRequestCheck(Check):
    """Provider cost at the run's prices per client request is at most ``max_usd``."""

    kind: Literal["cost_per_request"] = "cost_per_request"
    max_usd: float = Field(gt=0)

    def verdict(self, run: StoredRun) -> Verdict:
        """USD per client request."""
        total_usd = 0.0
        for model, counters in provider_stats(run)["models"].items():
            if not tokens_of(counters):
                continue
            cost = run.cost_usd(
                model,
                prompt_tokens=int(counters.get("prompt_tokens", 0)),
                completion_tokens=int(counters.get("completion_tokens", 0)),
            )
            if math.isnan(cost):
                raise UndecidableError(
                    f"model {model!r} served tokens but the run has no price for it"
                )
            total_usd += cost
        requests = sent_requests(run)
        return at_most(
            f"provider cost per client request = ${total_usd:.3g} / {requests:,}",
            total_usd / requests,
            self.max_usd,
            "usd",
        )


class UpstreamAmplificationCheck(Check):
    """Provider requests per client request, or per oracle minimum call, are at most ``max``.

    The oracle's minimum is what a perfect cache with ``ttl_s`` (and coalescing) would have
    sent upstream for this schedule; ``ttl_s: inf`` means every distinct request once.
    """

    kind: Literal["upstream_amplification"] = "upstream_amplification"
    max: float = Field(gt=0)
    relative_to: Literal["requests", "oracle"] = "oracle"
    ttl_s: float = Field(300.0, gt=0)

    def verdict(self, run: StoredRun) -> Verdict:
        """The amplification ratio."""
        upstream = int(provider_stats(run)["total"]["requests"])
        if self.relative_to == "requests":
            denominator, noun = sent_requests(run), "client requests sent"
        else:
            denominator = self._oracle_minimum(run)
            noun = f"the oracle's minimum upstream calls (ttl {number(self.ttl_s)} s)"
        return at_most(
            f"provider requests / {noun} = {upstream:,} / {denominator:,}",
            upstream / denominator,
            self.max,
            "ratio",
        )

    def _oracle_minimum(self, run: StoredRun) -> int:
        oracle: Mapping[str, Any] = run.history.meta.get("oracle") or {}
        if math.isinf(self.ttl_s):
            minimum = oracle.get("distinct_requests")
        else:
            by_ttl: Mapping[str, Any] = oracle.get("min_upstream_calls_by_ttl_s") or {}
            key = f"{self.ttl_s:g}"
            if key not in by_ttl:
                stored = ", ".join(sorted(by_ttl)) or "none"
                raise UndecidableError(f"the run has no oracle for ttl {key} s (stored: {stored})")
            minimum = by_ttl[key]
        if not minimum:
            raise UndecidableError("the run has no oracle minimum of upstream calls")
        return int(minimum)
