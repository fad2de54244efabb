"""A JSON-over-HTTP call with the standard library, for the stack's control APIs."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any


class HttpJsonError(Exception):
    """The server answered with an error status, or could not be reached (``status`` None)."""

    def __init__(self, status: int | None, message: str) -> None:
        self.status = status
        super().__init__(message)


def request_json(
    url: str, method: str, body: Mapping[str, Any] | None = None, *, timeout_s: float = 5.0
) -> Any:
    """Send ``body`` as JSON and return the decoded answer (None for an empty one)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - the stack's own loopback services
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            payload = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace").strip()
        raise HttpJsonError(exc.code, f"{method} {url}: HTTP {exc.code}: {detail}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise HttpJsonError(None, f"{method} {url}: unreachable: {exc}") from exc
    return json.loads(payload) if payload else None
