"""The gateway's API as an OpenAPI 3.1 document, built from the pydantic models the routes
validate request bodies with (and the copilot's answers are built from), so it cannot drift
from the code.

``python -m reference_impl.openapi`` prints the document; ``--write`` stores it as
``openapi.json`` beside this module: the copy the gateway serves at ``GET /openapi.json``
(no API key; it holds no secrets) and that a test compares with a freshly built one.
"""

from __future__ import annotations

import argparse
import functools
import importlib.resources
import json
import sys
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .config import CacheConfig, DeadlineConfig, GatewayConfig
from .copilot.models import OutreachDraft, OutreachRequest, PipelineSummary, SummarizeRequest
from .exchange import LONGEST_DEADLINE_MS, PROMPT_VERSION, PROMPT_VERSION_HEADER
from .model_list import ModelList
from .validation import MAX_JSON_DEPTH, ChatBody, EmbeddingsBody


STORED_NAME = "openapi.json"
STORED_PATH = Path(__file__).with_name(STORED_NAME)
SCHEMAS = "#/components/schemas/{model}"
MAX_BODY_BYTES = GatewayConfig.model_fields["max_body_bytes"].default


class ErrorDetail(BaseModel):
    """What went wrong: ``type`` is ``invalid_request_error`` for bad input."""

    message: str
    type: str
    param: str | None
    """The field at fault (``messages.0.role``), when one is."""
    code: str | None


class ErrorBody(BaseModel):
    """Every error answer (OpenAI's shape)."""

    error: ErrorDetail


_ERRORS: dict[int, str] = {
    400: (
        "Bad input: a body that is not a JSON object, nests arrays and objects deeper than"
        f" {MAX_JSON_DEPTH} levels or has an integer of more than 4300 digits, a field of the"
        " wrong type or out of range (named in `param`), a model that is not served, a bad"
        " header value, or malformed HTTP (a bad Content-Length, bad chunking)."
    ),
    401: "The API key (on /metrics, the scrape token) is missing or not known.",
    403: "/metrics only: no scrape token is configured (`metrics_token`), so metrics are off.",
    404: "No such route; on the copilot, no such row for the key's tenant.",
    405: "The route does not serve this method (`Allow` lists those it does).",
    408: "The request body did not arrive in time.",
    413: f"The body is larger than `max_body_bytes` ({MAX_BODY_BYTES} bytes by default).",
    415: "A `Content-Encoding` other than `identity`, `gzip` or `deflate`.",
    429: (
        "Over the tenant's or the gateway's concurrency cap, or past the tenant's token budget"
        " ceiling; `Retry-After` says when to try again."
    ),
    431: "Request headers too large, or too many.",
    503: "The provider cannot answer and the answer cannot degrade; retry after `Retry-After`.",
}
_ERROR_HEADERS = {405: "Allow", 429: "Retry-After", 503: "Retry-After"}

DESCRIPTION = f"""\
An OpenAI-compatible gateway. Every answer is JSON (but the Prometheus text of `/metrics` and
the server-sent events of a streamed chat completion); every error has the shape of
`ErrorBody`. Bad input is a 4xx, never a 5xx. Request bodies may nest arrays and objects at
most {MAX_JSON_DEPTH} levels deep. Fields the gateway does not act on pass through to the
provider unchanged; a provider's 4xx (but 408 and 429) is passed on as it is. A client that
closes its connection early is counted as 499 in the metrics; 499 is never sent. With every
pattern off (the naive profile), a provider's failure reaches the client as it is (a 429 or a
5xx), or as a 502 or 504."""


def build_document() -> dict[str, Any]:
    """The OpenAPI document of every route of ``app.create_app``."""
    keys, definitions = models_json_schema(
        [
            (ChatBody, "validation"),
            (EmbeddingsBody, "validation"),
            (SummarizeRequest, "validation"),
            (OutreachRequest, "validation"),
            (PipelineSummary, "serialization"),
            (OutreachDraft, "serialization"),
            (ModelList, "serialization"),
            (ErrorBody, "serialization"),
        ],
        ref_template=SCHEMAS,
    )
    ref = {model.__name__: schema for (model, _), schema in keys.items()}
    openai_params = _openai_parameters()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "meltproof reference gateway",
            "version": "v1",
            "description": DESCRIPTION,
        },
        "paths": {
            "/healthz": {"get": _healthz()},
            "/metrics": {"get": _metrics()},
            "/openapi.json": {"get": _openapi()},
            "/v1/models": {"get": _models(ref["ModelList"])},
            "/v1/chat/completions": {
                "post": _post(
                    "chat_completions",
                    "An OpenAI chat completion; `stream: true` answers with server-sent events.",
                    ref["ChatBody"],
                    _ok(
                        "A `chat.completion` object (`degraded: true` and `x-degraded: true` when"
                        " the provider could not answer), or its events when streamed.",
                        stream=True,
                    ),
                    parameters=openai_params,
                )
            },
            "/v1/embeddings": {
                "post": _post(
                    "embeddings",
                    "OpenAI embeddings of `input`.",
                    ref["EmbeddingsBody"],
                    _ok("A `list` of `embedding` objects."),
                    parameters=openai_params,
                    unavailable=True,
                )
            },
            "/v1/copilot/summarize": {
                "post": _post(
                    "copilot_summarize",
                    "A note per candidate of a pipeline of the key's tenant.",
                    ref["SummarizeRequest"],
                    _ok(
                        "The summary (`degraded: true` when data or a model was missing).",
                        schema=ref["PipelineSummary"],
                    ),
                    not_found=True,
                )
            },
            "/v1/copilot/outreach": {
                "post": _post(
                    "copilot_outreach",
                    "A draft message to a candidate of the key's tenant.",
                    ref["OutreachRequest"],
                    _ok(
                        "The draft (`degraded: true` when data or a model was missing).",
                        schema=ref["OutreachDraft"],
                    ),
                    not_found=True,
                )
            },
        },
        "components": {
            "schemas": definitions["$defs"],
            "responses": _error_responses(),
            "headers": {
                "Retry-After": {
                    "description": "Seconds to wait before trying again.",
                    "schema": {"type": "integer", "minimum": 1},
                },
                "Allow": {
                    "description": "The methods the route serves.",
                    "schema": {"type": "string"},
                },
            },
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The tenant's API key: `Authorization: Bearer <key>`.",
                },
                "apiKeyHeader": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "api-key",
                    "description": "The tenant's API key, Azure style.",
                },
                "scrapeToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The scrape token (`metrics_token`) of /metrics.",
                },
            },
        },
    }


def _openai_parameters() -> list[dict[str, Any]]:
    """The headers the chat and embeddings routes read."""
    deadline_header = DeadlineConfig.model_fields["header"].default
    cache_header = CacheConfig.model_fields["opt_in_header"].default
    return [
        _header(
            PROMPT_VERSION_HEADER,
            "The prompt version: part of the cache key and a metrics label.",
            {"type": "string", "pattern": PROMPT_VERSION.pattern, "default": "default"},
        ),
        _header(
            deadline_header,
            "This request's deadline until its answer starts, in milliseconds.",
            {"type": "integer", "minimum": 1, "maximum": LONGEST_DEADLINE_MS},
        ),
        _header(
            cache_header,
            "`1`: cache the answer even when the request is not deterministic.",
            {"type": "string", "enum": ["1"]},
        ),
        _header(
            "Idempotency-Key",
            "Sent upstream with every attempt of this request.",
            {"type": "string", "minLength": 1},
        ),
    ]


def _header(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _ok(description: str, *, schema: Any = None, stream: bool = False) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": schema or {"type": "object"}}}
    if stream:
        content["text/event-stream"] = {
            "schema": {
                "type": "string",
                "description": "`data: <chat.completion.chunk>` events, then `data: [DONE]`;"
                ' a stream cut midway ends with `data: {"error": ...}` and no `[DONE]`.',
            }
        }
    return {"description": description, "content": content}


def _post(
    operation_id: str,
    summary: str,
    body: dict[str, Any],
    ok: dict[str, Any],
    *,
    parameters: list[dict[str, Any]] | None = None,
    not_found: bool = False,
    unavailable: bool = False,
) -> dict[str, Any]:
    statuses = [400, 401, *([404] if not_found else []), 405, 408, 413, 415, 429, 431]
    statuses += [503] if unavailable else []
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "security": [{"apiKey": []}, {"apiKeyHeader": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {
            "200": ok,
            **{str(s): {"$ref": f"#/components/responses/{s}"} for s in statuses},
        },
    }
    if parameters:
        operation["parameters"] = parameters
    return operation


def _models(model_list: dict[str, Any]) -> dict[str, Any]:
    return {
        "operationId": "list_models",
        "summary": "The models the gateway serves (OpenAI's model list).",
        "security": [{"apiKey": []}, {"apiKeyHeader": []}],
        "responses": {
            "200": {
                "description": "A `list` of `model` objects, one per configured model.",
                "content": {"application/json": {"schema": model_list}},
            },
            "401": {"$ref": "#/components/responses/401"},
            "405": {"$ref": "#/components/responses/405"},
        },
    }


def _healthz() -> dict[str, Any]:
    ok = {
        "type": "object",
        "properties": {"status": {"const": "ok"}},
        "required": ["status"],
    }
    return {
        "operationId": "healthz",
        "summary": "Liveness: the process serves requests.",
        "security": [],
        "responses": {
            "200": {"description": "Alive.", "content": {"application/json": {"schema": ok}}},
            "405": {"$ref": "#/components/responses/405"},
        },
    }


def _metrics() -> dict[str, Any]:
    text = {"schema": {"type": "string"}}
    return {
        "operationId": "metrics",
        "summary": "Prometheus metrics of every worker, for the holder of the scrape token.",
        "security": [{"scrapeToken": []}],
        "responses": {
            "200": {
                "description": "The Prometheus text exposition format.",
                "content": {"text/plain": text},
            },
            "401": {"$ref": "#/components/responses/401"},
            "403": {"$ref": "#/components/responses/403"},
            "405": {"$ref": "#/components/responses/405"},
        },
    }


def _openapi() -> dict[str, Any]:
    return {
        "operationId": "openapi",
        "summary": "This document.",
        "security": [],
        "responses": {
            "200": {
                "description": "The OpenAPI document.",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "405": {"$ref": "#/components/responses/405"},
        },
    }


def _error_responses() -> dict[str, Any]:
    error = {"application/json": {"schema": {"$ref": SCHEMAS.format(model="ErrorBody")}}}
    responses: dict[str, Any] = {}
    for status, description in _ERRORS.items():
        response: dict[str, Any] = {"description": description, "content": error}
        if header := _ERROR_HEADERS.get(status):
            response["headers"] = {header: {"$ref": f"#/components/headers/{header}"}}
        responses[str(status)] = response
    return responses


def document_bytes() -> bytes:
    """The document as stored: indented JSON, one trailing newline."""
    return (json.dumps(build_document(), indent=2, ensure_ascii=False) + "\n").encode()


@functools.cache
def stored_document() -> bytes:
    """The stored document, as the installed package holds it."""
    return importlib.resources.files(__package__).joinpath(STORED_NAME).read_bytes()


async def openapi_document(_request: web.Request) -> web.Response:
    """``GET /openapi.json``: the stored document."""
    return web.Response(body=stored_document(), content_type="application/json")


def main(argv: list[str] | None = None) -> int:
    """Print the document, or store it with ``--write``."""
    parser = argparse.ArgumentParser(prog="python -m reference_impl.openapi", description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"store it as {STORED_PATH}")
    args = parser.parse_args(argv)
    if args.write:
        STORED_PATH.write_bytes(document_bytes())
    else:
        sys.stdout.buffer.write(document_bytes())
    return 0


if __name__ == "__main__":
    sys.exit(main())
