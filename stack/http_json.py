"""JSON over HTTP with the standard library: the base of the stack's control-API clients."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, ClassVar

from .errors import ControlApiError


class JsonApiClient:
    """A client of one JSON API at ``base_url``; failures raise the subclass's ``error``."""

    error: ClassVar[type[ControlApiError]] = ControlApiError

    def __init__(self, base_url: str, *, timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout_s = timeout_s

    def _request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """Send ``body`` as JSON; return the decoded answer (None for an empty one)."""
        url = self.base_url + path
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - the stack's own loopback services
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:  # noqa: S310
                payload = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace").strip()
            raise self.error(exc.code, f"{method} {url}: HTTP {exc.code}: {detail}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise self.error(None, f"{method} {url}: unreachable: {exc}") from exc
        return json.loads(payload) if payload else None
