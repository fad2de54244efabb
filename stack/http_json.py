"""JSON over HTTP with the standard library: the base of the stack's control-API clients."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, ClassVar

from .errors import ControlApiError


class JsonApiClient:
    """A client of one JSON API at ``base_url``; failures raise the subclass's ``error``.

    A subclass may add headers (``_headers``) and raise errors of its own (``_refused``,
    ``_unanswered``)."""

    error: ClassVar[type[ControlApiError]] = ControlApiError

    def __init__(self, base_url: str, *, timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout_s = timeout_s

    def _request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """Send ``body`` as JSON; return the decoded answer (None for an empty one)."""
        url = self.base_url + path
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - the stack's own loopback services
            url,
            data=data,
            method=method,
            headers={**self._headers(), "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:  # noqa: S310
                payload = response.read()
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace").strip()
            raise self._refused(method, url, exc.code, text) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise self._unanswered(method, url, f"unreachable: {exc}") from exc
        try:
            return json.loads(payload) if payload else None
        except ValueError as exc:
            raise self._unanswered(method, url, f"the answer is not JSON: {exc}") from exc

    def _headers(self) -> Mapping[str, str]:
        """Headers that every request carries besides its ``Content-Type``."""
        return {}

    def _refused(self, method: str, url: str, status: int, text: str) -> Exception:
        """The error for an answer with the error ``status`` and body ``text``."""
        return self.error(status, f"{method} {url}: HTTP {status}: {text}")

    def _unanswered(self, method: str, url: str, reason: str) -> Exception:
        """The error for no answer, or one that is not JSON, and why."""
        return self.error(None, f"{method} {url}: {reason}")
