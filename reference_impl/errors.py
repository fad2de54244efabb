"""OpenAI-shaped JSON errors: what the gateway's middleware answers for what a handler raised
(``error_response``), and the request handler that does the same for what fails before the
app sees a request (a malformed request line, oversized or too many headers, a bad
``Content-Length``, an HTTP version other than 1.0 and 1.1, an ``Expect`` other than
``100-continue``).

Bad input is the client's problem: a 4xx logged at INFO, without a traceback, and naming the
kind of problem only: the parser's own messages quote the request's bytes (its key, its
prompt), so they are never logged. A client that goes away mid-response is not an error at all
(DEBUG). Only a gateway failure is a 500 at ERROR with its traceback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.http import HttpVersion10, HttpVersion11
from aiohttp.http_exceptions import (
    BadHttpMethod,
    ContentEncodingError,
    HttpProcessingError,
    LineTooLong,
)
from aiohttp.web_protocol import RequestPayloadError
from aiohttp.web_request import BaseRequest


log = logging.getLogger(__name__)
SUPPORTED_ENCODINGS = frozenset({"identity", "gzip", "deflate"})
"""Request ``Content-Encoding`` values the gateway decodes; any other is a 415."""
CLIENT_CLOSED_REQUEST = 499
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_QUOTED_LINE = re.compile(r"""b['"]([^ '"]*) """)
SUPPORTED_VERSIONS = frozenset({HttpVersion10, HttpVersion11})


class InvalidRequest(Exception):  # noqa: N818 - named after the OpenAI error type
    """The client sent something we cannot use; becomes a 400 naming the problem."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def json_error(
    status: int,
    message: str,
    *,
    error_type: str,
    code: str | None = None,
    param: str | None = None,
) -> web.Response:
    """An error response with the body shape OpenAI clients understand."""
    body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return web.json_response(body, status=status)


def _bad_input(status: int, message: str, code: str) -> web.Response:
    return json_error(status, message, error_type="invalid_request_error", code=code)


def client_left(request: BaseRequest) -> bool:
    """Whether the client's connection is gone (or going)."""
    transport = request.transport
    return transport is None or transport.is_closing()


def _client_left_response(request: BaseRequest) -> web.Response:
    """What a request whose client went away ends as: nothing can reach the client, and
    aiohttp's own attempt to send this quietly fails on the closed connection."""
    log.debug("client went away during %s %s", request.method, request.path)
    return web.Response(status=CLIENT_CLOSED_REQUEST, reason="Client Closed Request")


def _parse_error(exc: BaseException) -> HttpProcessingError | None:
    """The parser's error behind ``exc`` (a body aiohttp could not read wraps it)."""
    if isinstance(exc, RequestPayloadError):
        exc = exc.__cause__ or exc
    return exc if isinstance(exc, HttpProcessingError) else None


def _http_input_error(exc: HttpProcessingError) -> web.Response:
    """The 4xx of a request the HTTP parser rejected (or whose body it could not read)."""
    if isinstance(exc, ContentEncodingError):
        return _bad_input(415, "unsupported Content-Encoding", "unsupported_content_encoding")
    if isinstance(exc, LineTooLong) or exc.message.lower().startswith("too many headers"):
        return _bad_input(
            431, "request headers too large or too many", "request_header_fields_too_large"
        )
    if isinstance(exc, BadHttpMethod) and _is_token_method(exc.message):
        return _bad_input(405, "method not allowed", "method_not_allowed")
    return _bad_input(400, "malformed HTTP request", "malformed_request")


def _is_token_method(message: str) -> bool:
    """Whether the request line that the parser quotes starts with a well-formed method
    (one it does not know, hence a 405) rather than garbage (a 400)."""
    quoted = _QUOTED_LINE.search(message)
    return quoted is not None and _TOKEN.match(quoted[1]) is not None


def _http_exception_json(exc: web.HTTPException) -> web.Response:
    """A 4xx aiohttp raised (no route, wrong method, body too large...) as JSON."""
    response = json_error(exc.status, exc.reason, error_type="invalid_request_error")
    if "Allow" in exc.headers:
        response.headers["Allow"] = exc.headers["Allow"]
    return response


def _unsupported_version(request: BaseRequest) -> web.Response:
    """A 400 for a request in an HTTP version the gateway does not speak, sent as HTTP/1.1
    (aiohttp answers in the request's version), and the connection closed."""
    log.info("unsupported HTTP version %s from %s", request.version, request.remote)
    request._cache["version"] = HttpVersion11  # what aiohttp's status line reads (reified)
    response = _bad_input(400, "unsupported HTTP version: use HTTP/1.1", "unsupported_http_version")
    response.force_close()
    return response


def error_response(request: web.Request, exc: Exception) -> web.StreamResponse:
    """The JSON error body of what a handler raised; an HTTP exception below 400 (a redirect)
    is raised again, as it is not an error. Called from an ``except`` block, so an unexpected
    failure is logged with its traceback."""
    if isinstance(exc, InvalidRequest):
        return json_error(400, exc.message, error_type="invalid_request_error", param=exc.param)
    if isinstance(exc, web.HTTPException):
        if exc.status < HTTPStatus.BAD_REQUEST:
            raise exc
        return _http_exception_json(exc)
    if isinstance(exc, ConnectionResetError) and client_left(request):
        return _client_left_response(request)
    if (parse_error := _parse_error(exc)) is not None:  # a body aiohttp could not read
        log.info(
            "bad request body on %s %s: %s",
            request.method, request.path, type(parse_error).__name__,
        )  # fmt: skip
        return _http_input_error(parse_error)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return json_error(500, "internal gateway error", error_type="server_error")


def encoding_refusal(request: web.Request) -> web.Response | None:
    """None, or the JSON 415 of a request body in an encoding the gateway does not decode."""
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in SUPPORTED_ENCODINGS:
        log.info("unsupported Content-Encoding %r on %s %s", encoding, request.method, request.path)
        return _bad_input(415, "unsupported Content-Encoding", "unsupported_content_encoding")
    return None


class GatewayRequestHandler(web.RequestHandler):
    """aiohttp's protocol handler, with a JSON 4xx for input its parser rejects."""

    __slots__ = ()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """A JSON 4xx logged at INFO for bad input; aiohttp's own handling otherwise."""
        parse_error = _parse_error(exc) if exc is not None else None
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR or parse_error is None:
            return super().handle_error(request, status, exc, message)
        log.info("bad HTTP request from %s: %s", request.remote, type(parse_error).__name__)
        if request.writer.output_size > 0:
            raise ConnectionError("a response was already sent; cannot send the error")
        response = _http_input_error(parse_error)
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """A request body the parser rejects after the response (left unread by the
        handler, then drained by aiohttp) is the client's bad input: INFO, no traceback."""
        exc = kw.get("exc_info")
        if isinstance(exc, BaseException) and (parse_error := _parse_error(exc)) is not None:
            log.info("bad HTTP request body: %s", type(parse_error).__name__)
            return
        super().log_exception(*args, **kw)

    async def _handle_request(
        self,
        request: BaseRequest,
        start_time: float | None,
        request_handler: Callable[[BaseRequest], Awaitable[web.StreamResponse]],
    ) -> tuple[web.StreamResponse, bool]:
        """aiohttp's, with JSON for what fails before the app's middlewares: an unsupported
        HTTP version, and an ``Expect`` refused (aiohttp checks it before the middlewares)."""

        async def answer(request: BaseRequest) -> web.StreamResponse:
            if request.version not in SUPPORTED_VERSIONS:
                return _unsupported_version(request)
            try:
                return await request_handler(request)
            except web.HTTPException as exc:
                if exc.status < HTTPStatus.BAD_REQUEST:
                    raise
                log.info("refused %s %s: %d", request.method, request.path, exc.status)
                return _http_exception_json(exc)

        return await super()._handle_request(request, start_time, answer)


class GatewayServer(web.Server):
    """Serves with ``GatewayRequestHandler``."""

    def __call__(self) -> web.RequestHandler:
        return GatewayRequestHandler(self, loop=self._loop, **self._kwargs)


class GatewayRunner(web.AppRunner):
    """``web.AppRunner`` whose connections get ``GatewayRequestHandler``."""

    __slots__ = ()

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = GatewayServer
        return server
