"""Per-tenant limits at the provider: requests in flight and tokens.

Tenants are named as the provider saw them (the ``X-Tenant-Id`` header the gateway sent). A
listed tenant absent from the counters sent nothing upstream, which meets any limit. When the
provider received calls but none with the header (``-`` only), the gateway does not forward
it, and the checks are ``not_applicable``; when it received some calls without the header
beside others with it, the gateway forwards it on some calls only (say, not on its retries),
the per-tenant figures would fall short, and the checks are ``unknown``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from pydantic import Field

from scenarios.stored_run import StoredRun

from .base import Check, NotApplicableError, UndecidableError, Verdict
from .timeline import NO_TENANT
from .upstream import provider_stats, tokens_of
from .wording import amount, holds_sign


Figure = Callable[[Mapping[str, Any]], int]


def per_tenant(
    run: StoredRun, limits: Mapping[str, int], figure: Figure, *, what: str, unit: str
) -> Verdict:
    """Each listed tenant's ``figure`` is at most its limit; reports the tenant nearest to it.

    ``observed``/``limit`` are those of the first tenant over its limit, else of the tenant
    with the highest figure relative to its limit.
    """
    tenants: Mapping[str, Mapping[str, Any]] = provider_stats(run).get("tenants") or {}
    if set(tenants) == {NO_TENANT}:
        raise NotApplicableError(
            "the provider saw no X-Tenant-Id header: the target does not forward it, so the "
            "provider's figures cannot be told apart by tenant"
        )
    untold = int((tenants.get(NO_TENANT) or {}).get("requests", 0))
    if untold:
        raise UndecidableError(
            f"the provider saw {untold:,} calls without an X-Tenant-Id header beside calls with "
            "one: the target forwards it on some calls only, so per-tenant figures fall short"
        )
    figures = {t: figure(tenants[t]) if t in tenants else 0 for t in limits}
    breaking = [t for t in limits if figures[t] > limits[t]]
    headline = breaking[0] if breaking else max(limits, key=lambda t: figures[t] / limits[t])
    parts = (
        f"{t} {amount(figures[t], unit)} {holds_sign(t not in breaking, '<=')} "
        f"{amount(limits[t], unit)}"
        for t in limits
    )
    details = f"{what} per tenant: " + ", ".join(parts)
    return Verdict(not breaking, figures[headline], limits[headline], unit, details)


class TenantInFlightCheck(Check):
    """Each listed tenant's peak of requests in flight at the provider is at most its cap."""

    kind: Literal["tenant_in_flight"] = "tenant_in_flight"
    max: dict[str, Annotated[int, Field(ge=1)]] = Field(min_length=1)

    def verdict(self, run: StoredRun) -> Verdict:
        """The peak in flight of the tenant nearest to (or over) its cap."""
        return per_tenant(
            run,
            self.max,
            lambda c: int(c.get("max_in_flight", 0)),
            what="peak requests in flight at the provider",
            unit="count",
        )


class TenantTokensCheck(Check):
    """Each listed tenant's tokens at the provider (prompt + completion) are at most its limit."""

    kind: Literal["tenant_tokens"] = "tenant_tokens"
    max: dict[str, Annotated[int, Field(ge=1)]] = Field(min_length=1)

    def verdict(self, run: StoredRun) -> Verdict:
        """The tokens of the tenant nearest to (or over) its limit."""
        return per_tenant(run, self.max, tokens_of, what="provider tokens", unit="tokens")
