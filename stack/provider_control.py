"""A client of the simulated provider's control API: faults, configuration, ground truth."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from .errors import ProviderControlError
from .http_json import JsonApiClient


class ProviderControl(JsonApiClient):
    """``/_control/...`` of one provider; bodies are the provider's JSON models."""

    error = ProviderControlError

    def config(self) -> dict[str, Any]:
        """The provider configuration in force (models, latencies, rate limits)."""
        return dict(self._request("GET", "/_control/config"))

    def set_config(self, config: Mapping[str, Any]) -> None:
        """Replace the configuration; deployments and rate-limit buckets start afresh."""
        self._request("PUT", "/_control/config", config)

    def set_fault(self, fault: Mapping[str, Any], *, model: str | None = None) -> None:
        """Inject a fault for one model, or for every model without its own."""
        body = dict(fault) | ({"model": model} if model else {})
        self._request("PUT", "/_control/faults", body)

    def clear_faults(self, *, model: str | None = None) -> None:
        """Heal: remove every fault, or only those of ``model``."""
        query = "?" + urlencode({"model": model}) if model else ""
        self._request("DELETE", "/_control/faults" + query)

    def stats(self) -> dict[str, Any]:
        """Ground truth: calls, statuses, tokens, in-flight (total, per tenant, per model, per
        endpoint kind) and the timeline of calls per second since the last ``reset``, by
        endpoint kind, model, tenant and status (``stack.provider.timeline``)."""
        return dict(self._request("GET", "/_control/stats"))

    def clear_stats(self) -> None:
        """Zero the counters and start the timeline again now, leaving config and faults (a
        stack another process runs, whose faults are its own)."""
        self._request("DELETE", "/_control/stats")

    def reset(self) -> None:
        """Back to the provider's start config; clear stats, faults and rate-limit buckets.

        The stats' timeline starts again now: reset right before a load so that its buckets
        line up with the load's time zero."""
        self._request("POST", "/_control/reset")
