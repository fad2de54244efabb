"""The slowest requests of a traced run as tables: each request's parts, then its spans.

Read from the ``Report``'s ``slowest_requests`` (``slowest``); a run that was not
traced has no such tables. Shares are of the request's latency as the client measured it.
"""

from __future__ import annotations

from .record import Report, SlowRequest
from .slowest import BEFORE, GATEWAY, PARTS
from .views import MISSING, TableView, number, share


NO_SPANS = "no spans received"
WHOLE_FROM_MS = 10
_BRIEF = {GATEWAY: "Gateway, other", BEFORE: "Before the gateway"}


def slowest_views(report: Report) -> list[TableView]:
    """The breakdown of each slow request and the spans behind it; none if not traced."""
    section = report.slowest_requests
    if section is None:
        return []
    requests = section.requests
    receiver = section.receiver or "the traces receiver"
    shown = [part for part in PARTS if any(_part_ms(request, part) for request in requests)]
    headers = (
        "#", "Row", "Tenant / endpoint", "Status", "Latency", "In the gateway",
        *(_BRIEF.get(part, part.capitalize()) for part in shown), "Trace id",
    )  # fmt: skip
    breakdown = tuple(
        _breakdown_row(rank, request, shown) for rank, request in enumerate(requests, 1)
    )
    spans = tuple(
        (
            str(rank),
            span.name,
            _ms(span.start_ms),
            _ms(span.ms),
            share(span.share),
            ("FAILED · " if span.error else "") + span.detail,
        )
        for rank, request in enumerate(requests, 1)
        for span in request.spans
    )
    return [
        TableView(
            f"Slowest requests: where the time went (spans from {receiver})",
            headers,
            breakdown,
            note=section.problem or "No request sent with a trace finished.",
        ),
        TableView(
            "Spans of the slowest requests",
            ("#", "Span", "Starts at", "Duration", "Share of the request", "Detail"),
            spans,
            note="The receiver had no span of these requests.",
        ),
    ]


def _part_ms(request: SlowRequest, part: str) -> float:
    return sum(p.ms or 0.0 for p in request.parts if p.part == part)


def _breakdown_row(rank: int, request: SlowRequest, shown: list[str]) -> tuple[str, ...]:
    parts = {part.part: part for part in request.parts}
    gateway = request.gateway_ms
    cells = tuple(
        MISSING if part not in parts else _ms_share(parts[part].ms, parts[part].share)
        for part in shown
    )
    return (
        str(rank),
        number(request.row),
        f"{request.tenant} / {request.endpoint}",
        number(request.status),
        _ms(request.latency_ms),
        NO_SPANS if gateway is None else _ms(gateway),
        *cells,
        request.trace_id,
    )


def _ms(value: float | None) -> str:
    """Milliseconds to a tenth below 10 ms, whole above: a breakdown reads at a glance."""
    if value is None:
        return MISSING
    return f"{value:,.1f} ms" if abs(value) < WHOLE_FROM_MS else f"{value:,.0f} ms"


def _ms_share(ms: float | None, fraction: float | None) -> str:
    if not ms:
        return "0"
    percent = MISSING if fraction is None else f"{fraction * 100:.0f}%"
    return f"{_ms(ms)} ({percent})"
