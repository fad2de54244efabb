"""OpenAI-shaped JSON errors, and the middleware that makes every error one."""

from __future__ import annotations

import logging
from http import HTTPStatus

from aiohttp import web
from aiohttp.typedefs import Handler


log = logging.getLogger(__name__)


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


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn HTTP exceptions and unexpected failures into JSON error bodies."""
    try:
        return await handler(request)
    except InvalidRequest as exc:
        return json_error(400, exc.message, error_type="invalid_request_error", param=exc.param)
    except web.HTTPException as exc:
        if exc.status < HTTPStatus.BAD_REQUEST:
            raise
        return json_error(exc.status, exc.reason, error_type="invalid_request_error")
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "internal gateway error", error_type="server_error")
