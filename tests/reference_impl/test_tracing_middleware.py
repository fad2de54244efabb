"""The request span of every /v1/ request, from the outermost middleware."""

from __future__ import annotations

import pytest
from aiohttp import web
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from reference_impl.config import TenantConfig
from reference_impl.keys import TENANT
from reference_impl.tracing import NO_TRACING, Attr, SpanName
from reference_impl.tracing_config import TracingConfig
from reference_impl.tracing_middleware import TRACING, install_tracing, traced_requests
from reference_impl.tracing_otel import OtelTracing, provider_for


TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = {"traceparent": f"00-{TRACE_ID}-b7ad6b7169203331-01"}
TENANT_CONFIG = TenantConfig(name="acme", api_key="sk-acme-0123456789")


async def chat(request: web.Request) -> web.Response:
    """Names its tenant, as the auth middleware would, and times one step."""
    request[TENANT] = TENANT_CONFIG
    with request.app[TRACING].span(SpanName.CACHE) as span:
        span.set(Attr.CACHE, "miss")
    return web.json_response({"ok": True})


async def broken(_request: web.Request) -> web.Response:
    raise RuntimeError("a bug")


async def missing(_request: web.Request) -> web.Response:
    raise web.HTTPNotFound


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def traced_app(exporter: InMemorySpanExporter, *, batched: bool = False) -> web.Application:
    processor = BatchSpanProcessor(exporter, schedule_delay_millis=600_000) if batched else None
    tracing = OtelTracing(
        provider_for(TracingConfig(enabled=True), processor or SimpleSpanProcessor(exporter))
    )
    app = web.Application()
    install_tracing(app, tracing)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/broken", broken)
    app.router.add_post("/v1/missing", missing)
    app.router.add_get("/healthz", healthz)
    return app


def spans_by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name: span for span in exporter.get_finished_spans()}


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


async def test_a_request_span_wraps_the_handler_and_its_steps(aiohttp_client, exporter):
    client = await aiohttp_client(traced_app(exporter))
    response = await client.post("/v1/chat/completions", json={}, headers=TRACEPARENT)
    assert response.status == 200
    spans = spans_by_name(exporter)
    root = spans["POST /v1/chat/completions"]
    assert root.kind is SpanKind.SERVER
    assert f"{root.context.trace_id:032x}" == TRACE_ID
    assert root.attributes == {
        Attr.METHOD: "POST",
        Attr.ROUTE: "/v1/chat/completions",
        Attr.TENANT: "acme",
        Attr.STATUS: 200,
    }
    assert spans[SpanName.CACHE].parent.span_id == root.context.span_id


async def test_only_v1_requests_are_traced(aiohttp_client, exporter):
    client = await aiohttp_client(traced_app(exporter))
    assert (await client.get("/healthz", headers=TRACEPARENT)).status == 200
    assert exporter.get_finished_spans() == ()


async def test_a_path_no_route_matches_is_traced_without_its_path(aiohttp_client, exporter):
    client = await aiohttp_client(traced_app(exporter))
    response = await client.post("/v1/sk-secret-in-the-path", headers=TRACEPARENT)
    assert response.status == 404
    (span,) = exporter.get_finished_spans()
    assert span.name == "POST unmatched"
    assert span.attributes[Attr.STATUS] == 404
    assert "sk-secret" not in span.to_json()


async def test_an_http_exception_is_its_status_not_a_failure(aiohttp_client, exporter):
    client = await aiohttp_client(traced_app(exporter))
    assert (await client.post("/v1/missing", headers=TRACEPARENT)).status == 404
    (span,) = exporter.get_finished_spans()
    assert span.attributes[Attr.STATUS] == 404
    assert span.status.status_code is StatusCode.UNSET
    assert Attr.ERROR_TYPE not in span.attributes


async def test_a_handler_that_raises_is_a_failed_500(aiohttp_client, exporter):
    client = await aiohttp_client(traced_app(exporter))
    assert (await client.post("/v1/broken", headers=TRACEPARENT)).status == 500
    (span,) = exporter.get_finished_spans()
    assert span.attributes[Attr.STATUS] == 500
    assert span.attributes[Attr.ERROR_TYPE] == "RuntimeError"
    assert span.status.status_code is StatusCode.ERROR


async def test_the_spans_still_queued_are_sent_when_the_app_stops(aiohttp_client, exporter):
    client = await aiohttp_client(traced_app(exporter, batched=True))
    await client.post("/v1/chat/completions", json={}, headers=TRACEPARENT)
    assert exporter.get_finished_spans() == ()  # queued: the next batch is minutes away
    await client.close()
    assert len(exporter.get_finished_spans()) == 2


def test_tracing_off_adds_no_middleware():
    app = web.Application()
    install_tracing(app, NO_TRACING)
    assert app[TRACING] is NO_TRACING
    assert traced_requests not in app.middlewares
