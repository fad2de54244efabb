"""OpenAI-shaped errors: ``{"error": {"message", "type", "param", "code"}}``.

The closed set of errors the API answers with::

    ApiError                    any JSON error response
    ├── BadRequestError         400 invalid_request_error (names the bad field)
    ├── AuthenticationError     401 missing or empty API key
    ├── NotFoundError           404 unknown model or route
    ├── MethodNotAllowedError   405 known route, other method
    ├── PayloadTooLargeError    413 body over ``max_body_bytes``
    ├── RateLimitError          429 rate_limit_exceeded, type "requests" or "tokens"
    └── ServerError             5xx server_error (injected, or a bug)

``error_middleware`` turns them, aiohttp's own HTTP errors (404/405/413) and
any unexpected exception (logged, 500) into JSON responses.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import ValidationError


log = logging.getLogger("stack.provider")

PARSE_ERROR = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON.)"
)
INTERNAL_ERROR = "The server had an error while processing your request. Sorry about that!"


class ApiError(Exception):
    """An error answered as OpenAI would."""

    status = 500
    error_type = "server_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        error_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.error_type = error_type or self.error_type
        self.headers = dict(headers or {})

    def body(self) -> dict[str, object]:
        """The JSON body."""
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> web.Response:
        """The HTTP response."""
        return web.Response(
            status=self.status,
            text=json.dumps(self.body()),
            content_type="application/json",
            headers=self.headers,
        )


class BadRequestError(ApiError):
    """400: the request is malformed or a field is invalid."""

    status = 400
    error_type = "invalid_request_error"


class AuthenticationError(ApiError):
    """401: no API key."""

    status = 401
    error_type = "invalid_request_error"


class NotFoundError(ApiError):
    """404: unknown model or route."""

    status = 404
    error_type = "invalid_request_error"


class MethodNotAllowedError(ApiError):
    """405: the route exists but not for this method."""

    status = 405
    error_type = "invalid_request_error"


class PayloadTooLargeError(ApiError):
    """413: the body is over the configured limit."""

    status = 413
    error_type = "invalid_request_error"


class RateLimitError(ApiError):
    """429: a rate limit (or an injected 429)."""

    status = 429
    error_type = "requests"


class ServerError(ApiError):
    """5xx: the server failed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def from_validation(err: ValidationError) -> BadRequestError:
    """The first problem of a pydantic error, as OpenAI would word it."""
    first = err.errors(include_url=False)[0]
    param = _param(first["loc"])
    kind = first["type"]
    ctx = first.get("ctx") or {}
    message = str(ctx["error"]) if kind == "value_error" and "error" in ctx else first["msg"]
    if kind == "json_invalid":
        return BadRequestError(PARSE_ERROR)
    if param is None:
        if kind.endswith("_type"):
            return BadRequestError("Invalid request body: expected a JSON object.")
        return BadRequestError(message)
    if kind == "missing":
        return BadRequestError(f"Missing required parameter: '{param}'.", param=param)
    if kind == "extra_forbidden":
        return BadRequestError(f"Unrecognized request argument supplied: {param}", param=param)
    wording = "Invalid type for" if kind.endswith("_type") else "Invalid value for"
    return BadRequestError(f"{wording} '{param}': {message}.", param=param)


def _param(loc: tuple[int | str, ...]) -> str | None:
    param = ""
    for part in loc:
        param += f"[{part}]" if isinstance(part, int) else f".{part}" if param else part
    return param or None


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every error with OpenAI-shaped JSON."""
    try:
        return await handler(request)
    except ApiError as err:
        return err.response()
    except web.HTTPException as exc:
        if exc.status < 400:  # noqa: PLR2004 - redirects are not errors
            raise
        return _from_http(request, exc).response()
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return ServerError(500, INTERNAL_ERROR).response()


def _from_http(request: web.Request, exc: web.HTTPException) -> ApiError:
    if isinstance(exc, web.HTTPNotFound):
        return NotFoundError(f"Invalid URL ({request.method} {request.path})")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return MethodNotAllowedError(
            f"Not allowed to {request.method} on {request.path}. "
            f"(HINT: Perhaps you meant to use a different HTTP method?)",
            headers={"Allow": ", ".join(sorted(exc.allowed_methods))},
        )
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return PayloadTooLargeError("Request body too large.")
    error = BadRequestError(exc.reason)
    error.status = exc.status
    return error
