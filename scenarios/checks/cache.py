"""The share of OK answers served without a provider call, from ground truth for any target.

The figure, for any gateway wired to meltproof's provider, comes from the provider's timeline
of calls (``timeline``): for each endpoint kind (chat, embeddings) in scope, at least
``max(0, OK answers - provider calls answered 200)`` answers were served without a call. It is
a lower bound: a provider call whose client had given up, a retry or a hedge that answered 200
as well, or a call the gateway made on its own all count against the hits. Answers coalesced
onto another request's call count as hits, as does a stale answer; a degraded answer (the
gateway's canned reply, flagged ``x-degraded``) never does. In a window, answers are taken by
intended send time and provider calls by when they arrived, so the figure is approximate at
the window's edges.

The gateway's own ``x-cache`` header (hits and, by default, coalesced answers) is given beside
it when the target sends one, and is the figure when ground truth cannot give it:

- the run has no provider counters (a gateway not wired to meltproof's provider), or
  ``count_coalesced`` is off (the provider cannot tell a coalesced answer from a cached one),
  or the scope is one tenant and the provider saw no ``X-Tenant-Id`` header (the gateway does
  not forward it): without the header, ``not_applicable``;
- the run's calls cannot be matched to answers (an endpoint that fans out to several calls,
  such as the copilot's; a scope of one endpoint beside another of the same kind), or its
  counters have no timeline (an older run): without the header, ``unknown``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field

from benchmarks.endpoints import ENDPOINTS, ChatCompletions, Embeddings
from benchmarks.op import CacheStatus, OpArray
from scenarios.stored_run import StoredRun

from .base import NotApplicableError, UndecidableError, Verdict, at_least
from .selection import Mask, Selection, Windowed, ok_answers
from .timeline import NO_TENANT, provider_timeline
from .upstream import provider_stats
from .wording import amount, count


class CacheHitRateCheck(Windowed):
    """The share of OK answers in scope served without a provider call is at least ``min``."""

    kind: Literal["cache_hit_rate"] = "cache_hit_rate"
    min: float = Field(ge=0, le=1)
    count_coalesced: bool = True
    """Count answers coalesced onto another request's upstream call as hits."""

    def verdict(self, run: StoredRun) -> Verdict:
        """The share served without a provider call (or, failing that, the header's hit rate)."""
        selection = self.select(run)
        ok = ok_answers(selection, run.table.ops)
        header = header_hits(run.table.ops, ok, count_coalesced=self.count_coalesced)
        try:
            truth = self._ground_truth(run, ok, selection)
        except (NotApplicableError, UndecidableError) as why:
            return self._by_header(header, why, int(ok.sum()), selection.scope)
        verdict = at_least(
            f"OK answers served without a provider call (at least) among "
            f"{count(truth.answers, 'OK answer')} ({selection.scope})",
            truth.share,
            self.min,
            "fraction",
        )
        details = f"{verdict.details} ({truth.provider_ok:,} provider calls answered 200)"
        if header is not None:
            said = amount(header.share, "fraction")
            details += f"; the gateway's x-cache says {said} {header.what}"
        return _with_details(verdict, details)

    def _ground_truth(self, run: StoredRun, ok: Mask, selection: Selection) -> GroundTruth:
        if not self.count_coalesced:
            raise NotApplicableError(
                "the provider cannot tell a coalesced answer from a cached one"
            )
        return served_without_provider_call(
            run, ok, endpoint=self.endpoint, tenant=self.tenant, intervals=selection.intervals
        )

    def _by_header(
        self, header: HeaderHits | None, why: Exception, answers: int, scope: str
    ) -> Verdict:
        """The header's figure when ground truth cannot give one (``why``)."""
        if header is None:
            raise type(why)(f"{why}, and no OK answer in scope ({scope}) carried an x-cache header")
        verdict = at_least(
            f"x-cache {header.what} among {count(answers, 'OK answer')} ({scope})",
            header.share,
            self.min,
            "fraction",
        )
        return _with_details(verdict, f"{verdict.details} (no ground truth: {why})")


@dataclass(frozen=True)
class HeaderHits:
    """The hit rate the gateway's ``x-cache`` header reports."""

    share: float
    what: str
    """``hits and coalesced`` or ``hits``."""


def header_hits(ops: OpArray, ok: Mask, *, count_coalesced: bool) -> HeaderHits | None:
    """The header's hit rate over the OK answers ``ok``; None when none carried the header."""
    cache = ops["cache"][ok]
    if not (cache != CacheStatus.NONE).any():
        return None
    hits = cache == CacheStatus.HIT
    if count_coalesced:
        hits |= cache == CacheStatus.COALESCED
    what = "hits and coalesced" if count_coalesced else "hits"
    return HeaderHits(float(hits.mean()), what)


@dataclass(frozen=True)
class GroundTruth:
    """OK answers, the provider's 200s of their endpoint kinds, and those served without one."""

    answers: int
    provider_ok: int
    served: int

    @property
    def share(self) -> float:
        """The share of the answers served without a provider call (a lower bound)."""
        return self.served / self.answers


def provider_kind(endpoint: str) -> str | None:
    """The provider's endpoint kind that one request of the client's ``endpoint`` calls; None
    for an endpoint that fans out to several calls (or none)."""
    spec = ENDPOINTS.get(endpoint)
    if isinstance(spec, ChatCompletions):
        return "chat"
    if isinstance(spec, Embeddings):
        return "embeddings"
    return None


def served_without_provider_call(
    run: StoredRun,
    ok: Mask,
    *,
    endpoint: str | None = None,
    tenant: str | None = None,
    intervals: Sequence[tuple[float, float]] | None = None,
) -> GroundTruth:
    """How many of the OK answers ``ok`` (of ``endpoint`` and ``tenant``, in ``intervals``)
    were served without a provider call, by the provider's timeline.

    ``NotApplicableError`` or ``UndecidableError`` when ground truth cannot tell (see the module
    docstring).
    """
    provider_stats(run)
    timeline = provider_timeline(run)
    if timeline is None:
        raise UndecidableError(
            "the run's provider counters have no timeline (stored by an older meltproof)"
        )
    if tenant is not None and timeline.tenants == {NO_TENANT}:
        raise NotApplicableError(
            "the provider saw no X-Tenant-Id header: the target does not forward it, so its "
            "calls cannot be told apart by tenant"
        )
    kinds = sent_kinds(run)
    fanning = [name for name, kind in kinds.items() if kind is None]
    if fanning:
        raise UndecidableError(
            f"{', '.join(fanning)} fans out to several provider calls per request, so the "
            "provider's calls cannot be matched to answers"
        )
    if endpoint is not None:
        alike = [n for n, k in kinds.items() if n != endpoint and k == kinds.get(endpoint)]
        if alike:
            raise UndecidableError(
                f"the provider's calls for {endpoint} and {', '.join(alike)} are alike, so they "
                f"cannot be matched to {endpoint}'s answers alone"
            )
    ops, names = run.table.ops, run.table.endpoints
    answers = provider_ok = served = 0
    for kind in sorted({kind for kind in kinds.values() if kind is not None}):
        codes = [names.index(name) for name, k in kinds.items() if k == kind]
        of_kind = ok & np.isin(ops["endpoint"], codes)
        if not of_kind.any():
            continue
        calls = timeline.calls(endpoint=kind, status="200", tenant=tenant, intervals=intervals)
        answers += int(of_kind.sum())
        provider_ok += calls
        served += max(0, int((of_kind & ~ops["degraded"]).sum()) - calls)
    return GroundTruth(answers, provider_ok, served)


def sent_kinds(run: StoredRun) -> dict[str, str | None]:
    """Each endpoint the client sent requests to, and the provider's kind it calls."""
    ops, names = run.table.ops, run.table.endpoints
    codes = np.unique(ops["endpoint"][~np.isnan(ops["sent_s"])]).tolist()
    return {names[code]: provider_kind(names[code]) for code in codes}


def _with_details(verdict: Verdict, details: str) -> Verdict:
    return Verdict(verdict.valid, verdict.observed, verdict.limit, verdict.unit, details)
