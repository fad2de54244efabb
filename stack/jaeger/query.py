"""Read traces back from Jaeger's query service (API v3: OTLP JSON), as plain spans.

``TraceSpan`` is what the harness keeps of a span, whatever receiver it came from: ids,
name, kind, times, attributes and whether it failed; ``to_dict`` and ``from_dict`` store it.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ControlApiError
from ..http_json import JsonApiClient


AttributeValue = str | int | float | bool
_KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_ERROR = 2
"""OTLP's ``STATUS_CODE_ERROR``."""
NOT_FOUND = 404


class TraceQueryError(ControlApiError):
    """The query service answered with an error, or not at all."""


@dataclass(frozen=True)
class TraceSpan:
    """One span as received: times in nanoseconds since the Unix epoch."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    service: str
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)
    error: bool = False

    @property
    def duration_s(self) -> float:
        """How long the span lasted."""
        return (self.end_ns - self.start_ns) / 1e9

    def to_dict(self) -> dict[str, Any]:
        """As stored (JSON)."""
        return asdict(self) | {"attributes": dict(self.attributes)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TraceSpan:
        """From ``to_dict``'s output."""
        return cls(**{**data, "attributes": dict(data.get("attributes") or {})})


class JaegerQuery(JsonApiClient):
    """The query service of a Jaeger v2 (``JaegerServer.url``)."""

    error = TraceQueryError

    def trace(self, trace_id: str) -> list[TraceSpan]:
        """Every span of ``trace_id`` (32 hex digits) received so far; none when the trace
        is unknown (not received yet, or never)."""
        path = f"/api/v3/traces/{urllib.parse.quote(trace_id)}?raw_traces=true"
        try:
            answer = self._request("GET", path)
        except TraceQueryError as exc:
            if exc.status == NOT_FOUND:
                return []
            raise
        return spans_of(answer.get("result") or {} if isinstance(answer, dict) else {})


def spans_of(traces: Mapping[str, Any]) -> list[TraceSpan]:
    """The spans of an OTLP JSON ``TracesData`` (``{"resourceSpans": [...]}``)."""
    spans: list[TraceSpan] = []
    for resource_spans in traces.get("resourceSpans") or ():
        resource = _attributes((resource_spans.get("resource") or {}).get("attributes"))
        service = str(resource.get("service.name", ""))
        for scope_spans in resource_spans.get("scopeSpans") or ():
            spans.extend(_span(raw, service) for raw in scope_spans.get("spans") or ())
    return spans


def _span(raw: Mapping[str, Any], service: str) -> TraceSpan:
    status = raw.get("status") or {}
    return TraceSpan(
        trace_id=str(raw["traceId"]).lower(),
        span_id=str(raw["spanId"]).lower(),
        parent_id=str(raw["parentSpanId"]).lower() if raw.get("parentSpanId") else None,
        name=str(raw.get("name", "")),
        kind=_KINDS.get(int(raw.get("kind", 0)), "unspecified"),
        start_ns=int(raw["startTimeUnixNano"]),
        end_ns=int(raw["endTimeUnixNano"]),
        service=service,
        attributes=_attributes(raw.get("attributes")),
        error=int(status.get("code", 0)) == _ERROR,
    )


def _attributes(raw: Any) -> dict[str, AttributeValue]:
    """OTLP JSON key-values as a mapping; arrays and maps (none of ours) are left out."""
    attributes: dict[str, AttributeValue] = {}
    for item in raw or ():
        value = item.get("value") or {}
        if "stringValue" in value:
            attributes[item["key"]] = str(value["stringValue"])
        elif "intValue" in value:
            attributes[item["key"]] = int(value["intValue"])  # a string in OTLP JSON
        elif "doubleValue" in value:
            attributes[item["key"]] = float(value["doubleValue"])
        elif "boolValue" in value:
            attributes[item["key"]] = bool(value["boolValue"])
    return attributes
