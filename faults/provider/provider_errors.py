"""``provider_errors``: a share of requests answered with error statuses (429 storms, 5xx)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from .base import ProviderFault


INJECTABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class ProviderErrorsFault(ProviderFault):
    """Answer each status's share of requests with it: ``{429: 1.0}`` is a 429 storm,
    ``{500: 0.3, 503: 0.2}`` a 5xx burst. 429s carry ``Retry-After: retry_after_s``.
    Ramps every rate up from 0."""

    kind: Literal["provider_errors"] = "provider_errors"
    rates: dict[int, float] = Field(min_length=1)
    retry_after_s: float = Field(default=1.0, ge=0.0, allow_inf_nan=False)

    ramp_field: ClassVar[str | None] = "rates"
    ramp_from: ClassVar[float] = 0.0

    @field_validator("rates")
    @classmethod
    def _check_rates(cls, rates: dict[int, float]) -> dict[int, float]:
        allowed = ", ".join(map(str, sorted(INJECTABLE_STATUSES)))
        for status, rate in rates.items():
            if status not in INJECTABLE_STATUSES:
                raise ValueError(f"status {status} cannot be injected (only {allowed})")
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"the rate of {status} must be between 0 and 1, not {rate}")
        if sum(rates.values()) > 1.0 + 1e-9:
            raise ValueError("the rates must sum to at most 1")
        return rates

    def spec(self) -> dict[str, Any]:
        """Error rates and Retry-After."""
        return {"error_rates": self.rates, "retry_after_s": self.retry_after_s}
